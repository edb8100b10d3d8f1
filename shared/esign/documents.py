"""Signed files: stored with their SHA-256 as documents of the execution, once per request."""

import hashlib
import uuid

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.tables import SignedDocument
from shared.db.types import utcnow
from shared.esign.model import SignedDocumentInfo, SignedFile
from shared.esign.store import RequestRow

_INFO = (
    SignedDocument.id,
    SignedDocument.request_id,
    SignedDocument.filename,
    SignedDocument.content_type,
    SignedDocument.size_bytes,
    SignedDocument.sha256,
)


async def store_signed(
    engine: AsyncEngine, request: RequestRow, file: SignedFile
) -> SignedDocumentInfo:
    """Keep the file; the first one stored for the request wins (a webhook and a poll may
    both fetch it), and that one is returned."""
    info = SignedDocumentInfo(
        id=uuid.uuid4(),
        request_id=request.id,
        filename=file.filename,
        content_type=file.content_type,
        size_bytes=len(file.content),
        sha256=hashlib.sha256(file.content).hexdigest(),
    )
    insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert
    statement = (
        insert(SignedDocument)
        .values(
            id=info.id,
            workspace_id=request.workspace_id,
            execution_id=request.execution_id,
            request_id=request.id,
            filename=info.filename,
            content_type=info.content_type,
            size_bytes=info.size_bytes,
            sha256=info.sha256,
            content=file.content,
            source_url=file.source_url,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(SignedDocument.id)
    )
    async with engine.connect() as conn:
        # One statement is atomic by itself: autocommit spares a BEGIN and a COMMIT.
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if await autocommit.scalar(statement) is not None:
            return info
        row = (
            await autocommit.execute(select(*_INFO).where(SignedDocument.request_id == request.id))
        ).one()
    return SignedDocumentInfo(*row)


async def content_for(
    conn: AsyncConnection, workspace_id: uuid.UUID, request_id: uuid.UUID
) -> tuple[SignedDocumentInfo, bytes] | None:
    """The signed file of a request of this workspace, or None."""
    row = (
        await conn.execute(
            select(*_INFO, SignedDocument.content).where(
                SignedDocument.request_id == request_id,
                SignedDocument.workspace_id == workspace_id,
            )
        )
    ).first()
    if row is None:
        return None
    return SignedDocumentInfo(*row[:6]), bytes(row[6])

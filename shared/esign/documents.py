"""Signed files: stored with their SHA-256 as documents of the execution, once per request."""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.tables import SignatureRequest, SignedDocument
from shared.db.types import utcnow
from shared.esign.model import SignedFile
from shared.esign.store import RequestRow


@dataclass(frozen=True)
class SignedDocumentInfo:
    id: uuid.UUID
    request_id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "signature_request_id": str(self.request_id),
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size_bytes,
            "sha256": self.sha256,
        }


_INFO = (
    SignedDocument.id,
    SignedDocument.request_id,
    SignedDocument.filename,
    SignedDocument.content_type,
    SignedDocument.size_bytes,
    SignedDocument.sha256,
)


async def store_signed(engine: AsyncEngine, request: RequestRow, file: SignedFile) -> uuid.UUID:
    """Keep the file (the first one stored for the request wins) and link it to the request."""
    document_id = uuid.uuid4()
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(SignedDocument).values(
                    id=document_id,
                    workspace_id=request.workspace_id,
                    execution_id=request.execution_id,
                    request_id=request.id,
                    filename=file.filename,
                    content_type=file.content_type,
                    size_bytes=len(file.content),
                    sha256=hashlib.sha256(file.content).hexdigest(),
                    content=file.content,
                    source_url=file.source_url,
                    created_at=utcnow(),
                )
            )
            await conn.execute(
                update(SignatureRequest)
                .where(SignatureRequest.id == request.id)
                .values(signed_document_id=document_id, updated_at=utcnow())
            )
    except IntegrityError:
        # Stored meanwhile by another worker (a webhook and a poll at once): keep theirs.
        async with engine.connect() as conn:
            existing = await conn.scalar(
                select(SignedDocument.id).where(SignedDocument.request_id == request.id)
            )
        if existing is None:
            raise
        return existing
    return document_id


async def info(conn: AsyncConnection, document_id: uuid.UUID) -> SignedDocumentInfo | None:
    row = (await conn.execute(select(*_INFO).where(SignedDocument.id == document_id))).first()
    return SignedDocumentInfo(*row) if row is not None else None


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

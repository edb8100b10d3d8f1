"""Signed files (`signed_documents`, kept by the e-signature capability) read as documents of
their execution, variant `signed`, so the documents API and e-mail attachments take them as
they take generated ones: the id in `generated_documents` is the id everywhere."""

import hashlib
import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db.tables import SignatureRequest, SignedDocument

Db = AsyncSession | AsyncConnection

VARIANT = "signed"

_COLUMNS = (
    SignedDocument.id,
    SignedDocument.workspace_id,
    SignedDocument.execution_id,
    SignatureRequest.node_id,
    SignatureRequest.id.label("request_id"),
    SignatureRequest.provider,
    SignatureRequest.provider_request_id,
    SignatureRequest.provider_document_id,
    SignedDocument.filename,
    SignedDocument.content_type,
    SignedDocument.sha256,
    SignedDocument.size_bytes,
    SignedDocument.created_at,
)


def _select(*extra: Any) -> Select[*tuple[Any, ...]]:
    return select(*_COLUMNS, *extra).join(
        SignatureRequest, SignatureRequest.id == SignedDocument.request_id
    )


async def signed_row(
    db: Db, workspace_id: uuid.UUID, document_id: uuid.UUID, *, content: bool = False
) -> Any | None:
    extra = (SignedDocument.content,) if content else ()
    return (
        await db.execute(
            _select(*extra).where(
                SignedDocument.id == document_id, SignedDocument.workspace_id == workspace_id
            )
        )
    ).first()


async def signed_of_execution(
    db: Db, workspace_id: uuid.UUID, execution_id: uuid.UUID
) -> list[Any]:
    return list(
        await db.execute(
            _select()
            .where(
                SignedDocument.execution_id == execution_id,
                SignedDocument.workspace_id == workspace_id,
            )
            .order_by(SignedDocument.created_at, SignedDocument.id)
        )
    )


def meta_fields(row: Any) -> dict[str, Any]:
    """A row above as DocumentMeta's fields."""
    return {
        "id": row.id,
        "workspace_id": row.workspace_id,
        "execution_id": row.execution_id,
        "node_id": row.node_id,
        "variant": VARIANT,
        "status": "ready",
        "name": row.filename,
        "content_type": row.content_type,
        "sha256": row.sha256,
        "size": row.size_bytes,
        # Made from the signature request: the same request, the same signed file.
        "input_sha256": hashlib.sha256(f"signature-request:{row.request_id}".encode()).hexdigest(),
        "template_id": None,
        "template_version": None,
        "template_file_id": None,
        "derived_from": None,
        "provider_ids": {
            row.provider: {
                "request_id": row.provider_request_id,
                "document_id": row.provider_document_id,
            },
            "signature_request_id": str(row.request_id),
        },
        "links": {},
        "created_at": row.created_at,
        "updated_at": row.created_at,
    }

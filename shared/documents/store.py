"""Generated documents: bytes and lineage in the database, found again by the node that made them.

A node looks its output up by (idempotency key, input hash, variant) before producing
anything, and saves what it produced at once, in its own transaction; so a re-run after a
crash reuses the first attempt's document instead of making a second one.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db.tables import Document
from shared.db.types import utcnow
from shared.documents import signed
from shared.documents.hashing import sha256_hex
from shared.documents.templates import ResolvedTemplate
from shared.errors import DocflowError, NotFound
from shared.status import DocumentStatus

Db = AsyncSession | AsyncConnection

#: Every column but the bytes, which only load_document reads.
_META = [c for c in Document.__table__.columns if c.name != "content"]


class DocumentNotReady(DocflowError):
    """The document's provider copy exists but its bytes were not fetched yet."""


@dataclass(frozen=True)
class DocumentMeta:
    id: uuid.UUID
    workspace_id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    #: document | pdf | signed (a signature request's signed file)
    variant: str
    #: pending | ready
    status: str
    name: str
    content_type: str
    sha256: str | None
    size: int | None
    input_sha256: str
    template_id: uuid.UUID | None
    template_version: int | None
    template_file_id: str | None
    derived_from: uuid.UUID | None
    provider_ids: dict[str, Any]
    links: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def context_entry(self) -> dict[str, Any]:
        """What `generated_documents` and node outputs carry: enough to pick and link it."""
        return {
            "id": str(self.id),
            "name": self.name,
            "content_type": self.content_type,
            "sha256": self.sha256,
            "size": self.size,
            "node_id": self.node_id,
            "variant": self.variant,
            "links": dict(self.links),
        }


@dataclass(frozen=True)
class NewDocument:
    workspace_id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    idempotency_key: str
    input_sha256: str
    variant: str
    name: str
    content_type: str
    #: None for a pending document (its provider copy exists, the bytes come later).
    content: bytes | None = None
    template: ResolvedTemplate | None = None
    template_file_id: str | None = None
    derived_from: uuid.UUID | None = None
    provider_ids: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)


async def find_document(
    db: Db, idempotency_key: str, input_sha256: str, variant: str
) -> DocumentMeta | None:
    row = (
        await db.execute(
            select(*_META).where(
                Document.idempotency_key == idempotency_key,
                Document.input_sha256 == input_sha256,
                Document.variant == variant,
            )
        )
    ).first()
    return _meta(row) if row is not None else None


async def save_document(db: Db, new: NewDocument) -> DocumentMeta:
    """Insert `new`, or return the document an earlier attempt saved under the same key.

    `ON CONFLICT DO NOTHING` lets two racing attempts both call this safely: the first insert
    wins and both return it.
    """
    now = utcnow()
    ready = new.content is not None
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": new.workspace_id,
        "execution_id": new.execution_id,
        "node_id": new.node_id,
        "idempotency_key": new.idempotency_key,
        "input_sha256": new.input_sha256,
        "variant": new.variant,
        "status": "ready" if ready else "pending",
        "name": new.name,
        "content_type": new.content_type,
        "sha256": sha256_hex(new.content) if new.content is not None else None,
        "size": len(new.content) if new.content is not None else None,
        "content": new.content,
        "template_id": new.template.id if new.template else None,
        "template_version": new.template.version if new.template else None,
        "template_file_id": new.template_file_id,
        "derived_from": new.derived_from,
        "provider_ids": new.provider_ids,
        "links": new.links,
        "created_at": now,
        "updated_at": now,
    }
    insert = sqlite.insert if _dialect(db) == "sqlite" else postgresql.insert
    await db.execute(
        insert(Document)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key", "input_sha256", "variant"])
    )
    saved = await find_document(db, new.idempotency_key, new.input_sha256, new.variant)
    assert saved is not None
    return saved


async def complete_document(db: Db, document_id: uuid.UUID, content: bytes) -> DocumentMeta:
    """A pending document gets its bytes and becomes ready."""
    await db.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(
            content=content,
            sha256=sha256_hex(content),
            size=len(content),
            status=DocumentStatus.READY,
            updated_at=utcnow(),
        )
    )
    return await _by_id(db, document_id)


async def add_provider_copy(
    db: Db, document_id: uuid.UUID, provider: str, ids: dict[str, Any], links: dict[str, Any]
) -> DocumentMeta:
    """Record where a provider keeps a copy (merged into what is known already)."""
    current = await _by_id(db, document_id)
    await db.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(
            provider_ids={**current.provider_ids, provider: ids},
            links={**current.links, **links},
            updated_at=utcnow(),
        )
    )
    return await _by_id(db, document_id)


async def read_document(db: Db, workspace_id: uuid.UUID, document_id: uuid.UUID) -> DocumentMeta:
    """A generated document of the workspace, or a signed file (variant `signed`)."""
    row = (
        await db.execute(
            select(*_META).where(Document.id == document_id, Document.workspace_id == workspace_id)
        )
    ).first()
    if row is not None:
        return _meta(row)
    found = await signed.signed_row(db, workspace_id, document_id)
    if found is None:
        raise NotFound("document", document_id)
    return DocumentMeta(**signed.meta_fields(found))


async def load_document(
    db: Db, workspace_id: uuid.UUID, document_id: uuid.UUID
) -> tuple[DocumentMeta, bytes]:
    """A document of the workspace with its bytes; NotFound, or DocumentNotReady if pending."""
    row = (
        await db.execute(
            select(*_META, Document.content).where(
                Document.id == document_id, Document.workspace_id == workspace_id
            )
        )
    ).first()
    if row is None:
        found = await signed.signed_row(db, workspace_id, document_id, content=True)
        if found is None:
            raise NotFound("document", document_id)
        return DocumentMeta(**signed.meta_fields(found)), bytes(found.content)
    if row.content is None:
        raise DocumentNotReady(f"document {document_id} has no content yet")
    return _meta(row), bytes(row.content)


async def documents_of_execution(
    db: Db, workspace_id: uuid.UUID, execution_id: uuid.UUID
) -> list[DocumentMeta]:
    """The execution's documents in the order they were made (pending ones included), its
    signed files among them."""
    rows = await db.execute(
        select(*_META)
        .where(Document.execution_id == execution_id, Document.workspace_id == workspace_id)
        .order_by(Document.created_at, Document.id)
    )
    generated = [_meta(row) for row in rows]
    signed_files = [
        DocumentMeta(**signed.meta_fields(row))
        for row in await signed.signed_of_execution(db, workspace_id, execution_id)
    ]
    return sorted([*generated, *signed_files], key=lambda d: (d.created_at, str(d.id)))


async def _by_id(db: Db, document_id: uuid.UUID) -> DocumentMeta:
    row = (await db.execute(select(*_META).where(Document.id == document_id))).first()
    if row is None:
        raise NotFound("document", document_id)
    return _meta(row)


def _meta(row: Any) -> DocumentMeta:
    mapping: RowMapping = row._mapping
    return DocumentMeta(**{name: mapping[name] for name in DocumentMeta.__dataclass_fields__})


def _dialect(db: Db) -> str:
    bind = db if isinstance(db, AsyncConnection) else db.get_bind()
    return bind.dialect.name

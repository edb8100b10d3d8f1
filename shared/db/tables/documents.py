"""Templates and the documents generated from them."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base
from shared.db.types import StatusColumn, utcnow
from shared.status import (
    DocumentStatus,
)


class Template(Base):
    """A named .docx/.pptx template of a workspace; each upload is a version, the newest current."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(String(200))
    #: docx | pptx; a name keeps its kind across versions.
    kind: Mapped[str] = mapped_column(String(8))
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateVersion(Base):
    """The bytes of one upload, in the database so any executor on any machine reads them."""

    __tablename__ = "template_versions"
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("templates.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A generated document with its lineage: what it was made from, and where copies went.

    Unique per (node idempotency key, input hash, variant): a node re-run after a crash finds
    what its first attempt produced instead of making a second copy.
    """

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("idempotency_key", "input_sha256", "variant"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(200))
    #: `{execution_id}:{node_id}`, the same on every attempt of the node.
    idempotency_key: Mapped[str] = mapped_column(String(300))
    #: SHA-256 of the canonical JSON of everything the output was made from.
    input_sha256: Mapped[str] = mapped_column(String(64))
    #: document (the node's own output) | pdf (a conversion of it)
    variant: Mapped[str] = mapped_column(String(16))
    #: pending (a provider copy exists, the bytes not yet) | ready
    status: Mapped[DocumentStatus] = mapped_column(StatusColumn(DocumentStatus))
    name: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("templates.id"))
    template_version: Mapped[int | None] = mapped_column(Integer)
    #: A Google template's Drive file id (Google templates are not uploaded to DocFlow).
    template_file_id: Mapped[str | None] = mapped_column(String(300))
    #: The document this one was converted from (a PDF's .docx).
    derived_from: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: {"graph": {"item_id", "path"}, "google": {"file_id"}}
    provider_ids: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: {"web": "https://…"}: where people open the provider's copy.
    links: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

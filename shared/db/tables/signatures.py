"""E-signature requests, their signers and the signed files."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base
from shared.db.types import StatusColumn, utcnow
from shared.esign.model import RequestStatus, SignerStatus


class SignatureRequest(Base):
    """One provider request made by one `signature` node attempt series.

    A node re-run (after a crash, or a retry of a transient error) finds the request by its
    idempotency key and reuses it; only after a request ended without a signature (refused,
    expired, cancelled) does a `retry` of the execution open the next `generation`.
    """

    __tablename__ = "signature_requests"
    __table_args__ = (
        UniqueConstraint("idempotency_key", "generation"),
        Index("ix_signature_requests_provider_document", "provider", "provider_document_id"),
        Index("ix_signature_requests_status_activity", "status", "last_activity_at"),
        Index("ix_signature_requests_cancel_due", "cancel_due_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(200))
    #: `{execution_id}:{node_id}`: ZapSign's external_id, part of ClickSign's envelope name.
    idempotency_key: Mapped[str] = mapped_column(String(300))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    #: clicksign | zapsign
    provider: Mapped[str] = mapped_column(String(16))
    #: The wait the node opens; fixed when the request is made, so early events can name it.
    wait_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    #: creating | pending | signed | refused | expired | cancelled
    status: Mapped[RequestStatus] = mapped_column(
        StatusColumn(RequestStatus), default=RequestStatus.CREATING
    )
    #: {"rule": "all" | "any" | "quorum", "required": N}
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(String(300))
    #: ClickSign envelope id; ZapSign document token.
    provider_request_id: Mapped[str | None] = mapped_column(String(200))
    #: ClickSign document key (what its webhooks name); ZapSign document token.
    provider_document_id: Mapped[str | None] = mapped_column(String(200))
    #: Creation steps done at the provider, so a resumed creation skips them.
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Every signer signed, or the provider closed the document: its signed file is due.
    provider_done: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    #: Last webhook or poll; reconciliation polls requests quiet for longer than configured.
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The workspace's `clicksign`/`zapsign` connection whose account made the request; None:
    #: the settings account. Every later call for the request (polls, downloads, cancelling)
    #: goes through the same account. No foreign key: a deleted connection must not turn the
    #: request into one of the settings account.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The run ended (cancelled, failed, or its wait expired with `on_timeout: fail`) while the
    #: request was open: it is to be cancelled at the provider.
    cancel_requested_at: Mapped[datetime | None]
    #: When the next try at cancelling is due (a try in progress pushes it ahead); None once
    #: the cancellation has an outcome.
    cancel_due_at: Mapped[datetime | None]
    cancel_attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: cancelled | refused | gave_up | nothing_to_cancel
    cancel_outcome: Mapped[str | None] = mapped_column(String(32))
    #: When the provider accepted the cancellation.
    cancelled_at: Mapped[datetime | None]
    #: The provider's answer to the last try: {"status", "body"} or {"status", "error"}.
    cancel_answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Signer(Base):
    __tablename__ = "signers"
    __table_args__ = (UniqueConstraint("request_id", "position"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("signature_requests.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_country: Mapped[str | None] = mapped_column(String(4))
    #: email | sms | whatsapp | none
    auth: Mapped[str] = mapped_column(String(16))
    #: Signing order (1 first) when ordered.
    signing_group: Mapped[int | None] = mapped_column(Integer)
    #: ClickSign signer id; ZapSign signer token.
    provider_signer_id: Mapped[str | None] = mapped_column(String(200))
    #: pending | signed | refused
    status: Mapped[SignerStatus] = mapped_column(
        StatusColumn(SignerStatus), default=SignerStatus.PENDING
    )
    #: When the signer signed or refused, as the provider says.
    acted_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignedDocument(Base):
    """The signed file, downloaded as soon as the provider finished (ZapSign links expire)."""

    __tablename__ = "signed_documents"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("signature_requests.id"), unique=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    source_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Templates and generated documents (documents, e-mail and CRM) ---

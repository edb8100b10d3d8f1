"""E-mails the notifier was asked to send."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base
from shared.db.types import StatusColumn, utcnow
from shared.status import DeliveryStatus


class EmailDelivery(Base):
    """One row per e-mail idempotency key: whether it went out, and how often it was tried.

    No foreign keys: the notifier records what it was asked to send and never refuses an e-mail
    because the execution or workspace it names is unknown here.
    """

    __tablename__ = "email_deliveries"
    __table_args__ = (Index("ix_email_deliveries_workspace_created", "workspace_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: The sender's de-duplication key (`{execution_id}:{node_id}`); sent at most once.
    idempotency_key: Mapped[str] = mapped_column(String(500), unique=True)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    execution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    #: {"to": [...], "cc": [...], "bcc": [...]}
    recipients: Mapped[dict[str, Any]]
    subject: Mapped[str] = mapped_column(Text)
    #: sending | sent | failed
    status: Mapped[DeliveryStatus] = mapped_column(
        StatusColumn(DeliveryStatus), default=DeliveryStatus.SENDING
    )
    #: Tries on the e-mail's own account, the one under way included (not those cut short).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: RFC 5322 Message-ID, derived from the key so every attempt carries the same one.
    message_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # Added with the e-mail nodes (migration 0007); nullable so older rows stay valid.
    #: When a deferred e-mail is tried again; the key is not tried before then.
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    #: The broker message to publish again at `next_attempt_at` (never a rendered approval link).
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: smtp | graph | console: how the last attempt went out.
    transport: Mapped[str | None] = mapped_column(String(16))
    #: What the server answered when it took the e-mail (`250 …`, `202 Accepted`).
    server_reply: Mapped[str | None] = mapped_column(Text)
    # Added for crash-proof e-mail (migration 0014, ADR 020).
    #: The try under way: committed before the server is spoken to and cleared by its outcome,
    #: so a claim that outlives its try marks a try cut short (a crash, a lost database).
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: When the try under way began; a claim older than DOCFLOW_EMAIL_STUCK_AFTER_SECONDS with
    #: nobody holding the row is put back in the queue.
    claimed_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Tries cut short without an outcome: counted apart from `attempts` (the e-mail's own).
    interruptions: Mapped[int] = mapped_column(Integer, server_default="0")

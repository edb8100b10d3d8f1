"""Approvers of approval waits and their links."""

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base
from shared.db.types import StatusColumn, utcnow
from shared.status import (
    ApprovalStatus,
)


class Approval(Base):
    """One approver of one approval wait, and the audit of what they decided.

    Links are never stored: an approver's tokens live in `approval_tokens` as SHA-256 hashes.
    """

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_status_next_reminder", "status", "next_reminder_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    wait_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("waits.id"), index=True)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    node_id: Mapped[str] = mapped_column(String(200))
    #: The approver's place in the node's list; a reassigned approver's successor keeps it.
    position: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    #: pending | approved | rejected | replaced | cancelled | expired
    status: Mapped[ApprovalStatus] = mapped_column(
        StatusColumn(ApprovalStatus), default=ApprovalStatus.PENDING
    )
    #: Decided after the wait had decided: recorded, and changes nothing.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    #: Decided through the API by this key, on the approver's behalf; None: by their link.
    decided_by_key: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When a link was last staged for e-mail (request, reminder or resend).
    notified_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    #: None: no reminders for this gate.
    next_reminder_at: Mapped[datetime | None]


class ApprovalToken(Base):
    """One link's token, as its SHA-256 hex only. An approver may hold several live ones
    (the request and each reminder); `resend` revokes them all and mints a new one."""

    __tablename__ = "approval_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    approval_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approvals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


# --- Triggers (HubSpot and Standard Webhooks) ---

"""Connections to providers and the secrets of incoming webhooks."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base
from shared.db.types import utcnow


class Connection(Base):
    """Provider credentials of a workspace; `sealed` is the whole config, encrypted."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[str] = mapped_column(Text)
    #: Names of the fields set, so people can see what a connection holds without its values.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Approvals (human approval gates) ---


class WebhookSecret(Base):
    """A workflow's Standard Webhooks secret, sealed; the previous one stays valid a while after
    a rotation so senders can switch without dropping events."""

    __tablename__ = "webhook_secrets"
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id"), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    sealed: Mapped[str] = mapped_column(Text)
    previous_sealed: Mapped[str | None] = mapped_column(Text)
    previous_valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None]


# --- E-signature (ClickSign, ZapSign): requests, signers, signed documents ---

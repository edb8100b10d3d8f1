"""Messages in and out: the outbox the services publish through, and the inbox of webhook
events received."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base, BigId
from shared.db.types import utcnow


class OutboxMessage(Base):
    """A message that must follow a committed change; deleted once the broker confirmed it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: Logical queue name (without the deployment prefix).
    queue: Mapped[str] = mapped_column(String(100))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboxEvent(Base):
    """An accepted provider event, unique per (provider, event key): the de-duplicator."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("provider", "event_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: clicksign | zapsign | hubspot | webhook:<workflow id> …
    provider: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(300))
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


# --- Connections (documents, e-mail and CRM) ---

"""Workspaces and their API keys."""

import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base
from shared.db.types import utcnow


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    #: SHA-256 hex of the key; the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: First characters of the key, so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    #: What the key is for, as its creator said ("ci", "zapier").
    name: Mapped[str | None] = mapped_column(String(200))
    #: After this the key is refused; None never expires.
    expires_at: Mapped[datetime | None]
    #: When a gateway last read the key for a request, to about a minute.
    last_used_at: Mapped[datetime | None]

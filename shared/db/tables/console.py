"""Operator console sign-ins: one row per browser session, the session token kept as a hash."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base
from shared.db.types import utcnow


class ConsoleSession(Base):
    """A session lives until `expires_at`, its sign-out (`ended_at`), or its API key's
    revocation or expiry: every lookup joins the key, so revoking a key ends its sessions."""

    __tablename__ = "console_sessions"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: SHA-256 hex of the cookie's value; the value itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    #: The key pasted at sign-in.
    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: Set by sign-out.
    ended_at: Mapped[datetime | None]

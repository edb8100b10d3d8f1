"""Console sign-ins: an API key pasted once becomes a session whose token only the browser's
cookie holds; the table keeps its SHA-256.

A session is good while it has not expired, not been signed out, and its API key is neither
revoked nor expired: the lookup joins the key, so revoking a key ends its sessions at once
(no cache, unlike the API's KeyCache: a console makes few requests).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.api_keys import hash_key
from shared.db.tables import ApiKey, ConsoleSession, Workspace

#: The session cookie; its path is `/` because the execution event stream, under the API
#: prefix, accepts it too.
COOKIE = "docflow_console"
_TOKEN_CHARS = 100

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class SignedIn:
    session_id: uuid.UUID
    workspace_id: uuid.UUID
    workspace_name: str
    #: The value every console form must send back (see csrf_of).
    csrf: str


def csrf_of(token: str) -> str:
    """Derived from the session token, which only the HttpOnly cookie holds: a page of the
    console can show it, another site can neither read nor compute it."""
    return hashlib.sha256(b"docflow-console-csrf:" + token.encode()).hexdigest()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def sign_in(
    sessions: Sessions, raw_key: str, *, now: datetime, lifetime: timedelta
) -> str | None:
    """A new session's token for a valid API key; None for an unknown, revoked or expired key."""
    token = secrets.token_urlsafe(32)
    async with sessions.begin() as session:
        key = (
            await session.execute(
                select(ApiKey.id, ApiKey.workspace_id).where(
                    ApiKey.key_hash == hash_key(raw_key.strip()),
                    ApiKey.revoked_at.is_(None),
                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                )
            )
        ).one_or_none()
        if key is None:
            return None
        # Sessions past their end are of no use to anyone; each sign-in sweeps them.
        await session.execute(
            delete(ConsoleSession).where(
                or_(ConsoleSession.expires_at <= now, ConsoleSession.ended_at.is_not(None))
            )
        )
        session.add(
            ConsoleSession(
                id=uuid.uuid4(),
                token_hash=_hash(token),
                workspace_id=key.workspace_id,
                api_key_id=key.id,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


async def look_up(sessions: Sessions, token: str, *, now: datetime) -> SignedIn | None:
    if not token or len(token) > _TOKEN_CHARS:
        return None
    async with sessions() as session:
        row = (
            await session.execute(
                select(ConsoleSession.id, ConsoleSession.workspace_id, Workspace.name)
                .join(ApiKey, ApiKey.id == ConsoleSession.api_key_id)
                .join(Workspace, Workspace.id == ConsoleSession.workspace_id)
                .where(
                    ConsoleSession.token_hash == _hash(token),
                    ConsoleSession.ended_at.is_(None),
                    ConsoleSession.expires_at > now,
                    ApiKey.revoked_at.is_(None),
                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                )
            )
        ).one_or_none()
    if row is None:
        return None
    return SignedIn(row.id, row.workspace_id, row.name, csrf_of(token))


async def sign_out(sessions: Sessions, session_id: uuid.UUID, *, now: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
            .values(ended_at=now)
        )


async def workspace_of_cookie(
    sessions: Sessions, token: str | None, *, now: datetime
) -> uuid.UUID | None:
    """For the event stream, which takes a console session instead of a Bearer key."""
    if token is None:
        return None
    signed_in = await look_up(sessions, token, now=now)
    return None if signed_in is None else signed_in.workspace_id

"""API keys: shown once when created, stored only as a SHA-256 hash, each bound to a workspace."""

import hashlib
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.tables import ApiKey, Workspace
from shared.db.types import utcnow

KEY_PREFIX = "dfk_"
#: Characters of the key kept in clear, so people can tell their keys apart.
SHOWN_CHARS = 8


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


async def create_api_key(
    sessions: async_sessionmaker[AsyncSession], workspace_name: str
) -> tuple[uuid.UUID, str]:
    """Create a key for `workspace_name` (creating the workspace if missing).

    Returns the workspace id and the raw key; the raw key cannot be recovered later.
    """
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    # Two callers creating the same new workspace at once: the loser's insert hits the unique
    # name, and its second attempt finds the winner's row.
    for attempt in range(2):
        try:
            async with sessions.begin() as session:
                workspace_id = await _workspace_id(session, workspace_name)
                session.add(
                    ApiKey(
                        workspace_id=workspace_id,
                        key_hash=hash_key(raw_key),
                        prefix=raw_key[:SHOWN_CHARS],
                        created_at=utcnow(),
                    )
                )
            return workspace_id, raw_key
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


async def _workspace_id(session: AsyncSession, name: str) -> uuid.UUID:
    existing = await session.scalar(select(Workspace.id).where(Workspace.name == name))
    if existing is not None:
        return existing
    workspace = Workspace(id=uuid.uuid4(), name=name, created_at=utcnow())
    session.add(workspace)
    await session.flush()
    return workspace.id


async def authenticate(
    sessions: async_sessionmaker[AsyncSession], raw_key: str
) -> uuid.UUID | None:
    """The workspace a key belongs to, or None for an unknown or revoked key."""
    async with sessions() as session:
        workspace_id: uuid.UUID | None = await session.scalar(
            select(ApiKey.workspace_id).where(
                ApiKey.key_hash == hash_key(raw_key), ApiKey.revoked_at.is_(None)
            )
        )
    return workspace_id

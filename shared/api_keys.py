"""API keys: shown once when created, stored only as a SHA-256 hash, each bound to a workspace."""

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable

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
    return await _workspace_of_hash(sessions, hash_key(raw_key))


async def _workspace_of_hash(
    sessions: async_sessionmaker[AsyncSession], key_hash: str
) -> uuid.UUID | None:
    async with sessions() as session:
        workspace_id: uuid.UUID | None = await session.scalar(
            select(ApiKey.workspace_id).where(
                ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)
            )
        )
    return workspace_id


class KeyCache:
    """`authenticate` remembered per key hash for `ttl_seconds`, in this process.

    Reading the key on every request was a tenth of the gateway's CPU per run request. The
    price is that a revoked key keeps working here for up to `ttl_seconds` (a short TTL bounds
    that, and 0 turns the cache off). Unknown and revoked keys are not remembered: an attacker
    guessing keys cannot fill the cache, and a key created a moment ago works at once.
    """

    #: Entries past this many are swept of expired ones; a live set this large is cleared.
    MAX_ENTRIES = 10_000

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl_seconds
        self._clock = clock
        #: key hash -> (workspace, monotonic time the entry stops being trusted)
        self._entries: dict[str, tuple[uuid.UUID, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def workspace_of(self, raw_key: str) -> uuid.UUID | None:
        """The workspace a key belongs to, or None for an unknown or revoked key."""
        if self._ttl <= 0:
            return await authenticate(self._sessions, raw_key)
        key_hash = hash_key(raw_key)
        entry = self._entries.get(key_hash)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        workspace_id = await _workspace_of_hash(self._sessions, key_hash)
        if workspace_id is None:
            self._entries.pop(key_hash, None)
            return None
        self._remember(key_hash, workspace_id)
        return workspace_id

    def _remember(self, key_hash: str, workspace_id: uuid.UUID) -> None:
        now = self._clock()
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
        self._entries[key_hash] = (workspace_id, now + self._ttl)

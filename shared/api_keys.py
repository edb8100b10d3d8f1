"""API keys: shown once when created, stored only as a SHA-256 hash, each bound to a workspace.

A key may expire; it can be revoked; and the gateway notes when it was last used (to about
a minute, so a busy key costs no write per request).
"""

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.tables import ApiKey, Workspace
from shared.db.types import utcnow
from shared.errors import NotFound

KEY_PREFIX = "dfk_"
#: Characters of the key kept in clear, so people can tell their keys apart.
SHOWN_CHARS = 8
#: `last_used_at` is written again once it is this much behind.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiKeyInfo:
    """Everything about a key but the key."""

    id: uuid.UUID
    workspace_id: uuid.UUID
    prefix: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> "ApiKeyInfo":
        return cls(
            id=row.id,
            workspace_id=row.workspace_id,
            prefix=row.prefix,
            name=row.name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_used_at=row.last_used_at,
        )


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


async def create_api_key(
    sessions: async_sessionmaker[AsyncSession],
    workspace_name: str,
    *,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[uuid.UUID, str]:
    """Create a key for `workspace_name` (creating the workspace if missing).

    Returns the workspace id and the raw key; the raw key cannot be recovered later.
    """
    raw_key = new_raw_key()
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
                        name=name,
                        expires_at=expires_at,
                    )
                )
            return workspace_id, raw_key
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def add_key(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    name: str | None,
    expires_at: datetime | None,
) -> tuple[ApiKeyInfo, str]:
    """A new key of an existing workspace: what is kept of it, and the key (shown once)."""
    raw_key = new_raw_key()
    row = ApiKey(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        key_hash=hash_key(raw_key),
        prefix=raw_key[:SHOWN_CHARS],
        created_at=utcnow(),
        name=name,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return ApiKeyInfo.of(row), raw_key


async def list_keys(session: AsyncSession, workspace_id: uuid.UUID) -> list[ApiKeyInfo]:
    """The workspace's keys, revoked ones included, oldest first."""
    rows = await session.scalars(
        select(ApiKey)
        .where(ApiKey.workspace_id == workspace_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return [ApiKeyInfo.of(row) for row in rows]


async def revoke_key(
    session: AsyncSession, workspace_id: uuid.UUID | None, key_id: uuid.UUID
) -> tuple[ApiKeyInfo, str]:
    """Revoke a key (again is a no-op); the key as it is now and its hash. `workspace_id`
    None is the operator's command, which may revoke any key."""
    query = select(ApiKey).where(ApiKey.id == key_id)
    if workspace_id is not None:
        query = query.where(ApiKey.workspace_id == workspace_id)
    row = await session.scalar(query.with_for_update())
    if row is None:
        raise NotFound("API key", key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return ApiKeyInfo.of(row), row.key_hash


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


@dataclass(frozen=True)
class _Valid:
    workspace_id: uuid.UUID
    expires_at: datetime | None


async def _valid_key(sessions: async_sessionmaker[AsyncSession], key_hash: str) -> _Valid | None:
    now = utcnow()
    async with sessions() as session:
        row = (
            await session.execute(
                select(
                    ApiKey.id, ApiKey.workspace_id, ApiKey.expires_at, ApiKey.last_used_at
                ).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
            )
        ).one_or_none()
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
            await session.execute(
                update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now)
            )
            await session.commit()
    return _Valid(row.workspace_id, row.expires_at)


async def _workspace_of_hash(
    sessions: async_sessionmaker[AsyncSession], key_hash: str
) -> uuid.UUID | None:
    valid = await _valid_key(sessions, key_hash)
    return None if valid is None else valid.workspace_id


class KeyCache:
    """`authenticate` remembered per key hash for `ttl_seconds`, in this process.

    Reading the key on every request was a tenth of the gateway's CPU per run request. The
    price is that a revoked key keeps working here for up to `ttl_seconds` (a short TTL bounds
    that, and 0 turns the cache off). Unknown and revoked keys are not remembered: an attacker
    guessing keys cannot fill the cache, and a key created a moment ago works at once.

    Requests that find the same key missing at once share one read: when an entry expired in
    a burst, each of the hundred requests in flight read the key and wrote its `last_used_at`
    itself, queueing on that row's lock.
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
        #: key hash -> the read in progress, shared by every request that waits for it
        self._reading: dict[str, asyncio.Future[_Valid | None]] = {}

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
        valid = await self._read_once(key_hash)
        if valid is None:
            self._entries.pop(key_hash, None)
            return None
        ttl = self._ttl
        if valid.expires_at is not None:
            # An expiring key is not trusted past its expiry.
            ttl = min(ttl, (valid.expires_at - utcnow()).total_seconds())
        self._remember(key_hash, valid.workspace_id, ttl)
        return valid.workspace_id

    async def _read_once(self, key_hash: str) -> _Valid | None:
        reading = self._reading.get(key_hash)
        if reading is None:
            # A task of its own, so a caller that gives up (its request cancelled) does not
            # cancel the read the others wait for.
            reading = asyncio.ensure_future(_valid_key(self._sessions, key_hash))
            self._reading[key_hash] = reading
            reading.add_done_callback(lambda done: self._read_done(key_hash, done))
        return await asyncio.shield(reading)

    def _read_done(self, key_hash: str, done: asyncio.Future[_Valid | None]) -> None:
        self._reading.pop(key_hash, None)
        if not done.cancelled():
            done.exception()  # seen here too: every waiter may have given up

    def forget(self, key_hash: str) -> None:
        """This process stops trusting the key at once (it revoked it)."""
        self._entries.pop(key_hash, None)

    def _remember(self, key_hash: str, workspace_id: uuid.UUID, ttl: float) -> None:
        now = self._clock()
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries = {k: e for k, e in self._entries.items() if e[1] > now}
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
        self._entries[key_hash] = (workspace_id, now + ttl)

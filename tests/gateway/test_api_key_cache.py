"""API keys read once per TTL: a revoked key stops working within the TTL, an unknown key is
never remembered, and a TTL of 0 reads the key every time."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import event, update

from shared.api_keys import KeyCache, create_api_key, hash_key
from shared.db.tables import ApiKey
from shared.db.types import utcnow
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.gateway.conftest import running_gateway, wait_until
from tests.support import ManualClock as Clock

TTL = 10.0


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings, start_broker=False) as opened:
        yield opened


async def _revoke(resources: Resources, raw_key: str) -> None:
    async with resources.sessions.begin() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(raw_key)).values(revoked_at=utcnow())
        )


@pytest.fixture
def key_reads(resources: Resources) -> Iterator[list[str]]:
    """Every statement that reads the api_keys table."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = args[2]
        if "FROM api_keys" in statement:
            seen.append(statement)

    engine = resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def test_a_key_is_read_once_per_ttl(resources: Resources, key_reads: list[str]) -> None:
    workspace_id, key = await create_api_key(resources.sessions, "acme")
    clock = Clock()
    cache = KeyCache(resources.sessions, TTL, clock)
    for _ in range(20):
        assert await cache.workspace_of(key) == workspace_id
    assert len(key_reads) == 1
    clock.now += TTL
    assert await cache.workspace_of(key) == workspace_id
    assert len(key_reads) == 2


async def test_a_revoked_key_works_until_its_entry_expires_and_not_after(
    resources: Resources,
) -> None:
    workspace_id, key = await create_api_key(resources.sessions, "acme")
    clock = Clock()
    cache = KeyCache(resources.sessions, TTL, clock)
    assert await cache.workspace_of(key) == workspace_id

    await _revoke(resources, key)
    clock.now += TTL - 0.001
    assert await cache.workspace_of(key) == workspace_id
    clock.now += 0.001
    assert await cache.workspace_of(key) is None
    # Refused keys are not remembered, and the revoked one is not brought back.
    assert await cache.workspace_of(key) is None


async def test_an_unknown_key_is_not_remembered(resources: Resources) -> None:
    cache = KeyCache(resources.sessions, TTL, Clock())
    raw_key = f"dfk_{uuid.uuid4().hex}"
    assert await cache.workspace_of(raw_key) is None

    # The same key created a moment later works at once, the clock not having moved.
    workspace_id, _ = await create_api_key(resources.sessions, "acme")
    async with resources.sessions.begin() as session:
        session.add(
            ApiKey(
                workspace_id=workspace_id,
                key_hash=hash_key(raw_key),
                prefix=raw_key[:8],
                created_at=utcnow(),
            )
        )
    assert await cache.workspace_of(raw_key) == workspace_id


async def test_with_a_ttl_of_zero_a_revoked_key_is_refused_at_once(
    resources: Resources, key_reads: list[str]
) -> None:
    workspace_id, key = await create_api_key(resources.sessions, "acme")
    cache = KeyCache(resources.sessions, 0.0, Clock())
    assert await cache.workspace_of(key) == workspace_id
    assert await cache.workspace_of(key) == workspace_id
    assert len(key_reads) == 2
    await _revoke(resources, key)
    assert await cache.workspace_of(key) is None


async def test_the_cache_never_holds_more_than_its_bound(resources: Resources) -> None:
    clock = Clock()
    cache = KeyCache(resources.sessions, TTL, clock)
    cache.MAX_ENTRIES = 3
    keys = [(await create_api_key(resources.sessions, f"w{n}"))[1] for n in range(7)]
    for n, key in enumerate(keys):
        clock.now += 1.0
        assert await cache.workspace_of(key) is not None
        assert len(cache) <= 3, n


async def test_the_gateway_refuses_a_revoked_key_within_the_ttl(pg_settings: Settings) -> None:
    ttl = 1.0
    settings = pg_settings.model_copy(update={"auth_cache_seconds": ttl})
    async with (
        open_resources(settings, start_broker=False) as resources,
        running_gateway(resources) as gateway,
    ):
        response = await gateway.client.get("/api/v1/workflows", headers=gateway.auth)
        assert response.status == 200
        await _revoke(resources, gateway.key)

        async def refused() -> bool:
            response = await gateway.client.get("/api/v1/workflows", headers=gateway.auth)
            return response.status == 401

        # The TTL, plus slack for a busy machine.
        await wait_until(refused, within=ttl + 4.0)


async def test_requests_that_miss_the_same_key_at_once_share_one_read(
    resources: Resources, key_reads: list[str]
) -> None:
    workspace_id, key = await create_api_key(resources.sessions, "acme")
    clock = Clock()
    cache = KeyCache(resources.sessions, TTL, clock)

    found = await asyncio.gather(*(cache.workspace_of(key) for _ in range(50)))

    assert found == [workspace_id] * 50
    assert len(key_reads) == 1
    # When the entry expires in the middle of a burst, the burst reads it once again.
    clock.now += TTL
    found = await asyncio.gather(*(cache.workspace_of(key) for _ in range(50)))
    assert found == [workspace_id] * 50
    assert len(key_reads) == 2

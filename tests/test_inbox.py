import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.inbox import record_event
from shared.runtime import Resources, open_resources
from shared.settings import Settings


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings, start_broker=False) as opened:
        yield opened


async def test_one_event_delivered_twenty_times_at_once_is_recorded_once(
    resources: Resources,
) -> None:
    async def deliver() -> int | None:
        async with resources.sessions.begin() as session:
            return await record_event(
                session, provider="clicksign", event_key="doc-1:sign:a", payload={"n": 1}
            )

    results = await asyncio.gather(*(deliver() for _ in range(20)))

    assert sum(result is not None for result in results) == 1


async def test_the_same_key_from_another_provider_is_another_event(resources: Resources) -> None:
    async with resources.sessions.begin() as session:
        first = await record_event(session, provider="zapsign", event_key="k", payload={})
        second = await record_event(session, provider="hubspot", event_key="k", payload={})
        again = await record_event(session, provider="zapsign", event_key="k", payload={})
    assert first is not None and second is not None and first != second
    assert again is None

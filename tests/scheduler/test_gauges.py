"""The open-waits count is paced by what it costs, so many parked runs do not make the scheduler
spend more; the queue gauges keep their interval."""

from typing import Any, cast

import pytest

from services.scheduler import gauges
from services.scheduler.gauges import GaugeRefresher
from shared.runtime import Resources
from tests.support import ManualClock as Clock


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []

    async def queues(_: Any) -> None:
        made.append("queues")

    monkeypatch.setattr(gauges, "refresh_queue_gauges", queues)
    monkeypatch.setattr(gauges, "refresh_outbox_gauge", queues)
    return made


def counting_for(seconds: float, clock: Clock, calls: list[str]) -> Any:
    async def count(_: Any) -> None:
        calls.append("waits")
        clock.now += seconds

    return count


async def passes(refresher: GaugeRefresher, clock: Clock, *, every: float, count: int) -> None:
    resources = cast(Resources, object())
    for _ in range(count):
        await refresher(resources, batch=100)
        clock.now += every


async def test_a_cheap_open_waits_count_is_refreshed_at_every_interval(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    clock = Clock()
    monkeypatch.setattr(gauges, "refresh_wait_gauges", counting_for(0.001, clock, calls))
    refresher = GaugeRefresher(5.0, wait_count_share=0.002, clock=clock)

    await passes(refresher, clock, every=1.0, count=30)

    assert calls.count("waits") == 6
    assert calls.count("queues") == 2 * 6  # the queues and the outbox


async def test_a_costly_open_waits_count_is_refreshed_less_often_and_the_queues_are_not(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> None:
    clock = Clock()
    # 0.1 s a count at a share of 0.002: once every 50 s, 0.2 % of a core.
    monkeypatch.setattr(gauges, "refresh_wait_gauges", counting_for(0.1, clock, calls))
    refresher = GaugeRefresher(5.0, wait_count_share=0.002, clock=clock)

    await passes(refresher, clock, every=1.0, count=120)

    assert calls.count("waits") == 3
    assert calls.count("queues") == 2 * 24  # the queues and the outbox

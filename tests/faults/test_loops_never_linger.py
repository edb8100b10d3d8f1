"""A service's background loop never lingers half-alive: a stray CancelledError is one failed
pass, and a loop that ends anyway stops its process with the reason."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.lifecycle import wait_for_stop
from services.scheduler.worker import Scheduler
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.scheduler.support import after_passes


class LoopKiller(BaseException):
    """Escapes every `except Exception`, as nothing in a well-behaved duty would."""


@pytest.fixture
async def resources(embedded_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(embedded_settings) as opened:
        yield opened


async def test_a_cancelled_error_leaked_by_a_duty_does_not_end_the_scheduler(
    resources: Resources,
) -> None:
    leaked = 0
    later_duty_runs = 0

    async def leaking(resources: Resources, *, batch: int) -> int:
        nonlocal leaked
        leaked += 1
        # What aio-pika let out of a publish across a reconnect: nobody cancelled us.
        raise asyncio.CancelledError()

    async def later(resources: Resources, *, batch: int) -> int:
        nonlocal later_duty_runs
        later_duty_runs += 1
        return 0

    scheduler = Scheduler(
        resources,
        duties=[("leaking", leaking), ("later", later)],
        gauge_interval=None,
        stalled_resumes=False,
    )
    await scheduler.start()
    try:
        await after_passes(scheduler, 3)
    finally:
        await scheduler.stop()
    assert leaked >= 3
    assert later_duty_runs >= 3


async def test_a_scheduler_loop_that_dies_stops_its_process_with_the_reason(
    resources: Resources,
) -> None:
    async def fatal(resources: Resources, *, batch: int) -> int:
        raise LoopKiller("out of band")

    scheduler = Scheduler(
        resources, duties=[("fatal", fatal)], gauge_interval=None, stalled_resumes=False
    )
    await scheduler.start()
    try:
        reason = await asyncio.wait_for(wait_for_stop(resources), 10)
    finally:
        await scheduler.stop()
    assert reason is not None
    assert reason.startswith("scheduler loop failed: LoopKiller")


async def test_a_scheduler_stopped_on_purpose_is_not_reported_as_dead(
    resources: Resources,
) -> None:
    scheduler = Scheduler(resources, duties=[], gauge_interval=None, stalled_resumes=False)
    await scheduler.start()
    await after_passes(scheduler, 1)
    await scheduler.stop()
    waiting = asyncio.create_task(resources.loop_deaths.wait())
    done, _ = await asyncio.wait({waiting}, timeout=0.5)
    waiting.cancel()
    assert not done

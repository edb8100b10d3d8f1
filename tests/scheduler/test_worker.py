import asyncio
import uuid
from datetime import timedelta

from services.periodic import statements_sent
from services.scheduler.worker import DUTIES, Scheduler
from shared.broker.topology import RUN
from shared.messages import RunExecution
from shared.runtime import Resources
from tests.scheduler.support import after_passes, inbox, insert_outbox, running


async def test_a_failing_duty_is_logged_and_the_others_still_run(resources: Resources) -> None:
    calls = 0

    async def broken(resources: Resources, *, batch: int) -> int:
        nonlocal calls
        calls += 1
        raise RuntimeError("database on fire")

    message = RunExecution(execution_id=uuid.uuid4())
    await insert_outbox(resources, RUN, message, age=timedelta(seconds=30))
    scheduler = Scheduler(resources, duties=[("broken", broken), *DUTIES])

    async with inbox(resources, RUN) as queue, running(scheduler):
        assert await queue.take(1) == [message]
        await after_passes(scheduler, 2)

    assert calls >= 2


async def test_stop_waits_for_the_pass_in_progress_and_nothing_runs_afterwards(
    resources: Resources,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished = 0

    async def slow(resources: Resources, *, batch: int) -> int:
        nonlocal finished
        entered.set()
        await release.wait()
        finished += 1
        return 0

    scheduler = Scheduler(resources, duties=[("slow", slow)])
    await scheduler.start()
    await asyncio.wait_for(entered.wait(), timeout=5)
    stopping = asyncio.create_task(scheduler.stop())
    await asyncio.sleep(0)  # stop() has begun waiting for the pass
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, timeout=5)

    assert finished == 1
    assert scheduler.passes == 1


async def test_an_idle_pass_asks_the_database_once_and_runs_no_duty(
    resources: Resources,
) -> None:
    scheduler = Scheduler(resources, gauge_interval=None, stalled_resumes=False)

    with statements_sent(resources.engine) as sent:
        assert await scheduler.run_once() is False

    (probe,) = sent
    assert probe.sql.lstrip().upper().startswith("SELECT EXISTS")


async def test_a_pass_runs_only_the_duties_the_probe_finds_due(resources: Resources) -> None:
    message = RunExecution(execution_id=uuid.uuid4())
    await insert_outbox(resources, RUN, message, age=timedelta(seconds=30))
    scheduler = Scheduler(resources, gauge_interval=None, stalled_resumes=False)

    async with inbox(resources, RUN) as queue:
        with statements_sent(resources.engine) as sent:
            await scheduler.run_once()
        assert await queue.take(1) == [message]

    probe, *relay = [s.sql for s in sent if s.sql.lstrip().upper().startswith(("SELECT", "DELETE"))]
    assert "EXISTS" in probe
    assert relay and all("outbox" in sql for sql in relay), relay

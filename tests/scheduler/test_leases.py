import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import select

from services.scheduler.leases import REASON
from services.scheduler.worker import Scheduler
from shared.broker.topology import RUN
from shared.db.tables import Execution, ExecutionTransition
from shared.db.types import utcnow
from shared.messages import RunExecution
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.scheduler.support import after_passes, inbox, insert_execution, running


async def load(resources: Resources, execution_id: uuid.UUID) -> Execution:
    async with resources.sessions() as session:
        execution = await session.get(Execution, execution_id)
    assert execution is not None
    return execution


async def transitions(resources: Resources, execution_id: uuid.UUID) -> list[ExecutionTransition]:
    async with resources.sessions() as session:
        rows = await session.scalars(
            select(ExecutionTransition).where(ExecutionTransition.execution_id == execution_id)
        )
        return list(rows)


async def test_an_expired_lease_is_fenced_and_its_run_republished_once(
    resources: Resources,
) -> None:
    execution_id = await insert_execution(
        resources, version=3, lease_expires_at=utcnow() - timedelta(seconds=1)
    )
    scheduler = Scheduler(resources)

    async with inbox(resources, RUN) as queue, running(scheduler):
        assert await queue.take(1) == [RunExecution(execution_id=execution_id)]
        await after_passes(scheduler)
        assert await queue.rest() == []

    execution = await load(resources, execution_id)
    assert (execution.status, execution.version, execution.lease_owner) == ("running", 4, None)
    [moved] = await transitions(resources, execution_id)
    assert (moved.from_status, moved.to_status, moved.reason) == ("running", "running", REASON)
    assert moved.worker == resources.settings.worker_id


async def test_a_live_lease_and_an_ownerless_run_are_left_alone(resources: Resources) -> None:
    live = await insert_execution(resources, lease_expires_at=utcnow() + timedelta(minutes=5))
    # Already fenced (or never claimed): the executor claims it, the sweep has nothing to do.
    ownerless = await insert_execution(
        resources, lease_owner=None, lease_expires_at=utcnow() - timedelta(minutes=5)
    )
    paused = await insert_execution(
        resources, status="paused", lease_expires_at=utcnow() - timedelta(minutes=5)
    )
    scheduler = Scheduler(resources)

    async with inbox(resources, RUN) as queue, running(scheduler):
        await after_passes(scheduler, 3)
        assert await queue.rest() == []

    for execution_id in (live, ownerless, paused):
        assert (await load(resources, execution_id)).version == 3
        assert await transitions(resources, execution_id) == []


async def test_two_schedulers_fence_each_of_many_expired_leases_exactly_once(
    pg_settings: Settings,
) -> None:
    # The outbox relay sends again what a publisher has not confirmed within its bound (1 s in
    # the tests): a CI machine once stalled two seconds between a fence's commit and its
    # publish, and five runs arrived twice. That is a duplicate by design, not a second
    # fence; here the relay stays out of the count.
    settings = pg_settings.model_copy(update={"outbox_relay_after_seconds": 60.0})
    async with open_resources(settings) as pg_resources, open_resources(settings) as other_process:
        expired_at = utcnow() - timedelta(seconds=1)
        expected = {
            await insert_execution(pg_resources, lease_expires_at=expired_at) for _ in range(40)
        }
        first = Scheduler(pg_resources, batch=7)
        second = Scheduler(other_process, batch=7)
        async with inbox(pg_resources, RUN) as queue, running(first, second):
            arrived = await queue.take(len(expected))
            await asyncio.gather(after_passes(first), after_passes(second))
            assert await queue.rest() == []

        assert sorted(m.execution_id for m in arrived if isinstance(m, RunExecution)) == sorted(
            expected
        )
        for execution_id in expected:
            assert (await load(pg_resources, execution_id)).version == 4
            assert len(await transitions(pg_resources, execution_id)) == 1

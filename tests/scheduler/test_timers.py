import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.scheduler.worker import Scheduler
from shared.broker.topology import RESUME
from shared.db.tables import Wait
from shared.db.types import utcnow
from shared.messages import ResumeExecution
from shared.runtime import Resources, open_resources
from tests.scheduler.support import after_passes, inbox, insert_execution, insert_wait, running


async def fired_at(resources: Resources, wait_id: uuid.UUID) -> object:
    async with resources.sessions() as session:
        return await session.scalar(select(Wait.fired_at).where(Wait.id == wait_id))


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("timer", "timer_due"), ("retry", "timer_due"), ("approval", "expired")],
)
async def test_a_due_wait_fires_once_with_the_reason_its_kind_implies(
    resources: Resources, kind: str, reason: str
) -> None:
    execution_id = await insert_execution(resources, status="paused", lease_owner=None)
    wait_id = await insert_wait(
        resources, execution_id, kind=kind, expires_at=utcnow() - timedelta(seconds=1)
    )
    scheduler = Scheduler(resources)

    async with inbox(resources, RESUME) as queue, running(scheduler):
        arrived = await queue.take(1)
        await after_passes(scheduler)
        assert await queue.rest() == []

    assert arrived == [ResumeExecution(execution_id=execution_id, wait_id=wait_id, reason=reason)]
    assert await fired_at(resources, wait_id) is not None


async def test_waits_not_due_decided_or_already_fired_are_left_alone(
    resources: Resources,
) -> None:
    execution_id = await insert_execution(resources, status="paused", lease_owner=None)
    past = utcnow() - timedelta(seconds=1)
    later = await insert_wait(resources, execution_id, expires_at=utcnow() + timedelta(hours=1))
    never = await insert_wait(resources, execution_id, kind="approval", expires_at=None)
    await insert_wait(resources, execution_id, expires_at=past, status="decided")
    await insert_wait(resources, execution_id, expires_at=past, fired_at=past)
    scheduler = Scheduler(resources)

    async with inbox(resources, RESUME) as queue, running(scheduler):
        await after_passes(scheduler, 3)
        assert await queue.rest() == []

    assert await fired_at(resources, later) is None
    assert await fired_at(resources, never) is None


async def test_two_schedulers_fire_each_of_many_due_waits_exactly_once(
    pg_resources: Resources,
) -> None:
    execution_id = await insert_execution(pg_resources, status="paused", lease_owner=None)
    due = utcnow() - timedelta(seconds=1)
    expected = {await insert_wait(pg_resources, execution_id, expires_at=due) for _ in range(60)}
    async with open_resources(pg_resources.settings) as other_process:
        first = Scheduler(pg_resources, batch=7)
        second = Scheduler(other_process, batch=7)
        async with inbox(pg_resources, RESUME) as queue, running(first, second):
            arrived = await queue.take(len(expected))
            await asyncio.gather(after_passes(first), after_passes(second))
            assert await queue.rest() == []

    assert sorted(m.wait_id for m in arrived if isinstance(m, ResumeExecution)) == sorted(expected)

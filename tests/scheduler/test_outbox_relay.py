import dataclasses
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.scheduler.worker import Scheduler
from shared.broker.topology import RESUME, RUN
from shared.db.tables import OutboxMessage, Wait
from shared.db.types import utcnow
from shared.messages import ResumeExecution, RunExecution
from shared.runtime import Resources, open_resources
from tests.scheduler.support import (
    after_passes,
    eventually,
    inbox,
    insert_execution,
    insert_outbox,
    insert_wait,
    running,
)


def sample(resources: Resources, name: str) -> float | None:
    return resources.metrics.registry.get_sample_value(name)


async def outbox_rows(resources: Resources) -> int:
    async with resources.sessions() as session:
        return await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


async def test_a_stranded_outbox_row_is_published_to_the_queue_and_deleted(
    resources: Resources,
) -> None:
    message = RunExecution(execution_id=uuid.uuid4())
    await insert_outbox(resources, RUN, message, age=timedelta(seconds=30))
    scheduler = Scheduler(resources)

    async with inbox(resources, RUN) as queue, running(scheduler):
        assert await queue.take(1) == [message]
        await after_passes(scheduler)
        assert await queue.rest() == []

    assert await outbox_rows(resources) == 0
    assert sample(resources, "docflow_outbox_relayed_total") == 1
    assert sample(resources, "docflow_outbox_backlog") == 0


async def test_a_young_outbox_row_is_left_to_the_process_that_staged_it(
    pg_resources: Resources,
) -> None:
    settings = pg_resources.settings.model_copy(update={"outbox_relay_after_seconds": 60.0})
    resources = dataclasses.replace(pg_resources, settings=settings)
    await insert_outbox(
        resources, RUN, RunExecution(execution_id=uuid.uuid4()), age=timedelta(seconds=50)
    )
    scheduler = Scheduler(resources)

    async with inbox(resources, RUN) as queue, running(scheduler):
        await after_passes(scheduler, 3)
        assert await queue.rest() == []

    assert await outbox_rows(resources) == 1
    assert sample(resources, "docflow_outbox_backlog") == 1


async def test_a_wait_fired_while_the_broker_is_unreachable_arrives_later_through_the_relay(
    pg_resources: Resources,
) -> None:
    resources = pg_resources
    execution_id = await insert_execution(resources, status="paused", lease_owner=None)
    wait_id = await insert_wait(resources, execution_id, expires_at=utcnow() - timedelta(seconds=1))

    # A scheduler whose broker never connected: every publish fails as if RabbitMQ were down.
    async with open_resources(resources.settings, start_broker=False) as cut_off:
        stranded = Scheduler(cut_off)
        async with running(stranded):
            await after_passes(stranded)
        async with cut_off.sessions() as session:
            fired_at = await session.scalar(select(Wait.fired_at).where(Wait.id == wait_id))
        assert fired_at is not None
        assert await outbox_rows(resources) == 1

    relay = Scheduler(resources)
    async with inbox(resources, RESUME) as queue, running(relay):
        arrived = await queue.take(1)

        async def relayed() -> bool:
            return await outbox_rows(resources) == 0

        await eventually(relayed)
        await after_passes(relay)
        assert await queue.rest() == []

    assert arrived == [
        ResumeExecution(execution_id=execution_id, wait_id=wait_id, reason="timer_due")
    ]

"""The gateway's publisher: a row is deleted only after its message was confirmed, deletes are
batched, a full batch goes at once, and closing deletes whatever waits."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import event, select

from services.gateway.common.outbox_publisher import OutboxPublisher
from shared.broker import topology
from shared.broker.base import Broker, EventHandler, GiveUp, Handler, Subscription
from shared.db.tables import OutboxMessage
from shared.errors import BrokerUnavailable
from shared.messages import ExecutionEvent, Message, RunExecution
from shared.outbox import Staged, stage
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.gateway.conftest import running_gateway, wait_until
from tests.support import outbox_rows

#: Long enough that only a full batch or close() can have deleted anything in a test.
NEVER = 600.0


class ScriptedBroker(Broker):
    """Confirms each publish once `release` is set; refuses the ones listed in `refuse`."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.release.set()
        self.waiting = asyncio.Event()
        self.refuse: set[uuid.UUID] = set()
        self.published: list[Message] = []

    async def publish(self, queue: str, message: Message) -> None:
        self.waiting.set()
        await self.release.wait()
        if getattr(message, "execution_id", None) in self.refuse:
            raise BrokerUnavailable("refused")
        self.published.append(message)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish_events(self, events: Sequence[ExecutionEvent]) -> None:
        pass

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, give_up: GiveUp | None = None
    ) -> Subscription:
        raise NotImplementedError

    async def subscribe_events(self, handler: EventHandler, pattern: str = "#") -> Subscription:
        raise NotImplementedError

    async def is_healthy(self) -> bool:
        return True

    async def dead_letters(self, queue: str) -> int:
        return 0

    async def queue_depth(self, queue: str) -> int:
        return 0


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings, start_broker=False) as opened:
        yield opened


@pytest.fixture
def deletes(resources: Resources) -> Iterator[list[str]]:
    """Every DELETE statement sent to the outbox table."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        if args[2].startswith("DELETE FROM outbox"):
            seen.append(args[2])

    engine = resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def _staged(resources: Resources, count: int) -> list[Staged]:
    async with resources.sessions.begin() as session:
        return [
            await stage(session, topology.RUN, RunExecution(execution_id=uuid.uuid4()))
            for _ in range(count)
        ]


async def test_a_row_is_not_handed_over_for_deletion_before_its_confirm(
    resources: Resources,
) -> None:
    broker = ScriptedBroker()
    broker.release.clear()
    publisher = OutboxPublisher(broker, resources.engine, every_seconds=0.001, batch=1)
    (staged,) = await _staged(resources, 1)

    publishing = asyncio.create_task(publisher.publish([staged]))
    await asyncio.wait_for(broker.waiting.wait(), 5)
    assert publisher.waiting == 0
    assert await outbox_rows(resources) == 1

    broker.release.set()
    assert await asyncio.wait_for(publishing, 5) == 1
    await wait_until(lambda: _no_rows(resources))
    await publisher.close()


async def _no_rows(resources: Resources) -> bool:
    return await outbox_rows(resources) == 0


async def test_confirmed_rows_are_deleted_a_batch_at_a_time(
    resources: Resources, deletes: list[str]
) -> None:
    publisher = OutboxPublisher(ScriptedBroker(), resources.engine, every_seconds=0.05)
    staged = await _staged(resources, 60)

    await asyncio.gather(*(publisher.publish([s]) for s in staged))
    await wait_until(lambda: _no_rows(resources))
    await publisher.close()
    assert 1 <= len(deletes) <= 3


async def test_a_full_batch_is_deleted_without_waiting_for_the_interval(
    resources: Resources,
) -> None:
    publisher = OutboxPublisher(ScriptedBroker(), resources.engine, every_seconds=NEVER, batch=10)
    staged = await _staged(resources, 10)

    await asyncio.gather(*(publisher.publish([s]) for s in staged))
    await wait_until(lambda: _no_rows(resources), within=5.0)
    await publisher.close()


async def test_closing_deletes_the_confirmed_rows_that_wait(resources: Resources) -> None:
    publisher = OutboxPublisher(ScriptedBroker(), resources.engine, every_seconds=NEVER)
    staged = await _staged(resources, 3)

    assert await publisher.publish(staged) == 3
    assert (publisher.waiting, await outbox_rows(resources)) == (3, 3)
    await publisher.close()
    assert (publisher.waiting, await outbox_rows(resources)) == (0, 0)


async def test_a_refused_message_and_those_after_it_stay_for_the_relay(
    resources: Resources,
) -> None:
    broker = ScriptedBroker()
    publisher = OutboxPublisher(broker, resources.engine, every_seconds=NEVER)
    staged = await _staged(resources, 3)
    broker.refuse.add(getattr(staged[1].message, "execution_id"))  # noqa: B009

    assert await publisher.publish(staged) == 1
    await publisher.close()
    async with resources.sessions() as session:
        left = (await session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id))).all()
    assert left == [staged[1].id, staged[2].id]
    assert broker.published == [staged[0].message]


async def test_a_gateway_stopped_right_after_a_run_request_leaves_no_published_row(
    pg_settings: Settings,
) -> None:
    async with open_resources(pg_settings) as resources:
        async with running_gateway(resources) as gateway:
            workflow = await gateway.create_workflow()
            await gateway.start(workflow["id"])
        # The shutdown let the publish finish and deleted its row, not left it to the relay.
        assert await outbox_rows(resources) == 0

"""A RabbitMQ broker reached through a proxy the test controls, and a consumer that records."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from yarl import URL

from shared.broker.rabbit import RabbitBroker
from shared.broker.topology import RUN, Names
from shared.messages import Message, RunExecution
from tests.conftest import AMQP_URL
from tests.proxy import CuttableProxy


class Recorder:
    """A handler that remembers every execution id it was handed, and can be made slow."""

    def __init__(self) -> None:
        self.seen: list[uuid.UUID] = []
        self.arrived = asyncio.Event()
        self.hold: asyncio.Event | None = None

    async def __call__(self, message: Message) -> None:
        assert isinstance(message, RunExecution)
        self.seen.append(message.execution_id)
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()

    async def handled(self, execution_id: uuid.UUID, within: float) -> None:
        async def wait() -> None:
            while execution_id not in self.seen:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), within)


def via_proxy(proxy: CuttableProxy) -> str:
    return str(URL(AMQP_URL).with_host("127.0.0.1").with_port(proxy.port))


@contextlib.asynccontextmanager
async def broker_behind_proxy(
    queue_prefix: str, *, heartbeat_seconds: int = 5
) -> AsyncIterator[tuple[RabbitBroker, CuttableProxy]]:
    target = URL(AMQP_URL)
    proxy = await CuttableProxy(target.host or "127.0.0.1", target.port or 5672).start()
    broker = RabbitBroker(
        via_proxy(proxy),
        Names(queue_prefix),
        delivery_limit=3,
        publish_timeout=2.0,
        heartbeat_seconds=heartbeat_seconds,
    )
    await broker.start()
    try:
        yield broker, proxy
    finally:
        proxy.let_flow()
        await broker.close()
        await proxy.cut()


@contextlib.asynccontextmanager
async def direct_broker(queue_prefix: str) -> AsyncIterator[RabbitBroker]:
    """A second client, straight to RabbitMQ: publishes while the first one's link is down."""
    broker = RabbitBroker(AMQP_URL, Names(queue_prefix), delivery_limit=3, publish_timeout=5.0)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.close()


async def publish_run(broker: RabbitBroker) -> uuid.UUID:
    execution_id = uuid.uuid4()
    await broker.publish(RUN, RunExecution(execution_id=execution_id))
    return execution_id

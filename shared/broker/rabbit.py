"""RabbitMQ adapter (aio-pika): quorum queues, confirms, manual acks, robust reconnect."""

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pamqp.commands import Basic

from shared.broker.base import (
    Broker,
    EventHandler,
    GiveUp,
    Handler,
    Outcome,
    Subscription,
    deliver,
)
from shared.broker.topology import WORK_QUEUES, Names
from shared.errors import BrokerUnavailable, UndecodableMessage
from shared.messages import ExecutionEvent, Message, batches_by_name, decode, encode, unbatched

log = structlog.get_logger(__name__)

# A transient handler failure is requeued after this pause, so a database outage does not burn
# through the delivery limit in a hot loop.
REQUEUE_PAUSE_SECONDS = 1.0
#: Set by a quorum queue on a message it delivers again: how often it came back before.
DELIVERY_COUNT_HEADER = "x-delivery-count"


#: How long cancelling a consumer waits for the messages it is handling before closing the
#: channel (which returns whatever is still unacknowledged to the queue).
IN_HAND_GRACE_SECONDS = 60.0


class _ConsumerSubscription(Subscription):
    """Cancelling stops deliveries first (basic.cancel), lets the messages in hand finish and
    be acknowledged on this channel, then closes it."""

    def __init__(self, channel: AbstractChannel, queue: AbstractQueue) -> None:
        self._channel, self._queue = channel, queue
        self.tag = ""
        self.in_hand: set[asyncio.Task[Any]] = set()

    async def cancel(self) -> None:
        try:
            await self._queue.cancel(self.tag)
            if self.in_hand:
                await asyncio.wait(set(self.in_hand), timeout=IN_HAND_GRACE_SECONDS)
        finally:
            await self._channel.close()


class RabbitBroker(Broker):
    def __init__(
        self,
        url: str,
        names: Names,
        *,
        delivery_limit: int,
        publish_timeout: float,
        reconnect_interval: float = 1.0,
    ) -> None:
        self._url = url
        self._names = names
        self._delivery_limit = delivery_limit
        self._publish_timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._connection: AbstractRobustConnection | None = None
        self._confirmed: AbstractChannel | None = None
        self._events_channel: aio_pika.RobustChannel | None = None
        self._event_properties = Basic.Properties(
            content_type="application/json", delivery_mode=1, message_id="event"
        )

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url, reconnect_interval=self._reconnect_interval, timeout=10
        )
        self._confirmed = await self._connection.channel(publisher_confirms=True)
        await self._declare(self._confirmed)
        # Events are best effort, so they skip confirms and keep the per-node path cheap.
        self._events_channel = cast(
            aio_pika.RobustChannel, await self._connection.channel(publisher_confirms=False)
        )

    async def _declare(self, channel: AbstractChannel) -> None:
        names = self._names
        dlx = await channel.declare_exchange(
            names.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        for logical in WORK_QUEUES:
            dlq = await channel.declare_queue(
                names.dead_letter_queue(logical),
                durable=True,
                arguments={"x-queue-type": "quorum"},
            )
            await dlq.bind(dlx, routing_key=names.queue(logical))
            await channel.declare_queue(
                names.queue(logical),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": self._delivery_limit,
                    "x-dead-letter-exchange": names.dead_letter_exchange,
                    "x-dead-letter-routing-key": names.queue(logical),
                },
            )
        await channel.declare_exchange(
            names.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def publish(self, queue: str, message: Message) -> None:
        if self._confirmed is None:
            raise BrokerUnavailable("broker not started")
        properties = Basic.Properties(
            content_type="application/json",
            delivery_mode=2,
            message_type=getattr(message, "type", None),
        )
        try:
            channel = cast(aiormq.Channel, await self._confirmed.get_underlay_channel())
            # wait=False: the channel lock is released once the frame is queued, not after the
            # socket drained, so concurrent publishes overlap instead of queueing behind each
            # other; the broker's confirm is still awaited below.
            confirmation = await asyncio.wait_for(
                channel.basic_publish(
                    encode(message),
                    exchange="",
                    routing_key=self._names.queue(queue),
                    properties=properties,
                    mandatory=True,
                    wait=False,
                ),
                timeout=self._publish_timeout,
            )
        except Exception as e:
            raise BrokerUnavailable(f"publish to {queue} not confirmed: {e!r}") from e
        if not isinstance(confirmation, Basic.Ack):
            name = type(confirmation).__name__
            raise BrokerUnavailable(f"publish to {queue} was not accepted ({name})")

    async def publish_events(self, events: Sequence[ExecutionEvent]) -> None:
        if self._events_channel is None:
            return
        for batch in batches_by_name(events):
            try:
                # The hottest publish: straight to the AMQP channel, without waiting for the
                # socket to drain, transient, unconfirmed, and not mandatory (nobody may be
                # listening; an unrouted event is simply dropped).
                channel = cast(aiormq.Channel, await self._events_channel.get_underlay_channel())
                await channel.basic_publish(
                    encode(batch),
                    exchange=self._names.events_exchange,
                    routing_key=batch.event,
                    properties=self._event_properties,
                    wait=False,
                )
            except Exception as e:
                log.warning(
                    "event_publish_failed",
                    event_name=batch.event,
                    count=len(batch.events),
                    error=repr(e),
                )

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, give_up: GiveUp | None = None
    ) -> Subscription:
        channel = await self._require_connection().channel()
        await channel.set_qos(prefetch_count=prefetch)
        amqp_queue = await channel.get_queue(self._names.queue(queue), ensure=False)
        subscription = _ConsumerSubscription(channel, amqp_queue)

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            me = asyncio.current_task()
            if me is not None:
                subscription.in_hand.add(me)
            try:
                # A quorum queue counts the earlier returns of a message in this header, and
                # dead-letters it when it comes back once more than the limit allows.
                returns = incoming.headers.get(DELIVERY_COUNT_HEADER) or 0
                last_try = isinstance(returns, int) and returns >= self._delivery_limit
                outcome = await deliver(incoming.body, handler, last_try=last_try, give_up=give_up)
                if outcome is Outcome.ACK:
                    await incoming.ack()
                elif outcome is Outcome.DEAD_LETTER:
                    await incoming.reject(requeue=False)
                else:
                    await asyncio.sleep(REQUEUE_PAUSE_SECONDS)
                    await incoming.nack(requeue=True)
            finally:
                if me is not None:
                    subscription.in_hand.discard(me)

        subscription.tag = await amqp_queue.consume(on_message)
        return subscription

    async def subscribe_events(self, handler: EventHandler, pattern: str = "#") -> Subscription:
        channel = await self._require_connection().channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(self._names.events_exchange, routing_key=pattern)

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            async with incoming.process(requeue=False, ignore_processed=True):
                try:
                    message = decode(incoming.body)
                except UndecodableMessage:
                    return
                for event in unbatched(message):
                    await handler(event)

        subscription = _ConsumerSubscription(channel, queue)
        subscription.tag = await queue.consume(on_message)
        return subscription

    async def is_healthy(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def dead_letters(self, queue: str) -> int:
        return await self._message_count(self._names.dead_letter_queue(queue))

    async def queue_depth(self, queue: str) -> int:
        return await self._message_count(self._names.queue(queue))

    async def consumer_count(self, queue: str) -> int:
        declared = await self._declare_ok(self._names.queue(queue))
        return int(declared.consumer_count or 0)

    async def _message_count(self, name: str) -> int:
        declared = await self._declare_ok(name)
        return int(declared.message_count or 0)

    async def _declare_ok(self, name: str) -> Any:
        channel = await self._require_connection().channel()
        try:
            declared: Any = await channel.declare_queue(name, passive=True)
            return declared.declaration_result
        finally:
            await channel.close()

    def _require_connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise BrokerUnavailable("broker not started")
        return self._connection

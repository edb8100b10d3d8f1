"""RabbitMQ adapter (aio-pika): quorum queues, confirms, manual acks, robust reconnect."""

import asyncio
import uuid
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
from yarl import URL

from shared.broker.base import (
    Broker,
    EventHandler,
    GiveUp,
    Handler,
    Outcome,
    QueueCounts,
    Subscription,
    deliver,
)
from shared.broker.rabbit_consumers import Attach, Consumer, ConsumerWatch, OnMessage, link_up
from shared.broker.topology import WORK_QUEUES, Names
from shared.errors import BrokerUnavailable, UndecodableMessage
from shared.messages import (
    ExecutionEvent,
    ExecutionEventBatch,
    Message,
    batches_by_name,
    decode,
    encode,
    unbatched,
)

log = structlog.get_logger(__name__)

# A transient handler failure is requeued after this pause, so a database outage does not burn
# through the delivery limit in a hot loop.
REQUEUE_PAUSE_SECONDS = 1.0
#: Set by a quorum queue on a message it delivers again: how often it came back before.
DELIVERY_COUNT_HEADER = "x-delivery-count"


#: Bound on settling (ack, reject, nack) one message: across a reconnect the channel that
#: delivered it is gone, and the broker returns the message to the queue by itself.
SETTLE_TIMEOUT_SECONDS = 5.0
#: Bound on the best-effort publish of execution events.
EVENT_PUBLISH_TIMEOUT_SECONDS = 1.0


class RabbitBroker(Broker):
    def __init__(
        self,
        url: str,
        names: Names,
        *,
        delivery_limit: int,
        publish_timeout: float,
        heartbeat_seconds: int = 5,
        reconnect_interval: float = 1.0,
    ) -> None:
        # aiormq reads the heartbeat from the URL; one set there by the operator wins. Missing
        # three in a row closes the connection, so a black-holed link is noticed.
        parsed = URL(url)
        if "heartbeat" not in parsed.query:
            parsed = parsed.update_query(heartbeat=heartbeat_seconds)
        self._url = str(parsed)
        self._names = names
        self._delivery_limit = delivery_limit
        self._publish_timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._connection: AbstractRobustConnection | None = None
        self._confirmed: AbstractChannel | None = None
        self._events_channel: aio_pika.RobustChannel | None = None
        self._watch: ConsumerWatch | None = None
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
        self._watch = ConsumerWatch(self._connection)
        self._watch.start()

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
        if self._watch is not None:
            await self._watch.stop()
            self._watch = None
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
        confirmed = self._confirmed

        async def confirm() -> Any:
            # Waiting for the channel is inside the timeout too: across a reconnect a robust
            # channel waits until it is restored, which is for ever while the broker is away.
            channel = cast(aiormq.Channel, await confirmed.get_underlay_channel())
            # wait=False: the channel lock is released once the frame is queued, not after the
            # socket drained, so concurrent publishes overlap instead of queueing behind each
            # other; the broker's confirm is still awaited.
            return await channel.basic_publish(
                encode(message),
                exchange="",
                routing_key=self._names.queue(queue),
                properties=properties,
                mandatory=True,
                wait=False,
            )

        try:
            confirmation = await asyncio.wait_for(confirm(), timeout=self._publish_timeout)
        except Exception as e:
            raise BrokerUnavailable(f"publish to {queue} not confirmed: {e!r}") from e
        if not isinstance(confirmation, Basic.Ack):
            name = type(confirmation).__name__
            raise BrokerUnavailable(f"publish to {queue} was not accepted ({name})")

    async def publish_events(self, events: Sequence[ExecutionEvent]) -> None:
        if self._events_channel is None:
            return
        events_channel = self._events_channel
        for batch in batches_by_name(events):

            async def send(batch: ExecutionEventBatch = batch) -> None:
                # The hottest publish: straight to the AMQP channel, without waiting for the
                # socket to drain, transient, unconfirmed, and not mandatory (nobody may be
                # listening; an unrouted event is simply dropped).
                channel = cast(aiormq.Channel, await events_channel.get_underlay_channel())
                await channel.basic_publish(
                    encode(batch),
                    exchange=self._names.events_exchange,
                    routing_key=batch.event,
                    properties=self._event_properties,
                    wait=False,
                )

            try:
                await asyncio.wait_for(send(), EVENT_PUBLISH_TIMEOUT_SECONDS)
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
        name = self._names.queue(queue)

        async def attach(channel: AbstractChannel) -> AbstractQueue:
            # Declared (passively) on the channel, not fetched with get_queue: only a queue the
            # robust channel holds is consumed again after a reconnect.
            return await channel.declare_queue(name, passive=True)

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            # A quorum queue counts the earlier returns of a message in this header, and
            # dead-letters it when it comes back once more than the limit allows.
            returns = incoming.headers.get(DELIVERY_COUNT_HEADER) or 0
            last_try = isinstance(returns, int) and returns >= self._delivery_limit
            outcome = await deliver(incoming.body, handler, last_try=last_try, give_up=give_up)
            if outcome is Outcome.REQUEUE:
                await asyncio.sleep(REQUEUE_PAUSE_SECONDS)
            await _settle(incoming, outcome, queue)

        return await self._consumer(queue, attach, on_message, prefetch)

    async def subscribe_events(self, handler: EventHandler, pattern: str = "#") -> Subscription:
        # Named here, not by the server: a robust channel re-declares its queues after a
        # reconnect, and RabbitMQ refuses a declared name in its reserved `amq.` range.
        name = self._names.queue(f"events.{uuid.uuid4().hex}")

        async def attach(channel: AbstractChannel) -> AbstractQueue:
            queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
            await queue.bind(self._names.events_exchange, routing_key=pattern)
            return queue

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            try:
                message = decode(incoming.body)
            except UndecodableMessage:
                message = None
            if message is not None:
                for event in unbatched(message):
                    try:
                        await handler(event)
                    except Exception as e:
                        log.warning("event_handler_failed", error=repr(e))
            await _settle(incoming, Outcome.ACK, "events")

        return await self._consumer("events", attach, on_message, prefetch=256)

    async def _consumer(
        self,
        queue: str,
        attach: Attach,
        on_message: OnMessage,
        prefetch: int,
    ) -> Consumer:
        consumer = Consumer(
            self._require_connection(),
            queue=queue,
            attach=attach,
            on_message=on_message,
            prefetch=prefetch,
        )
        await consumer.open()
        if self._watch is not None:
            self._watch.consumers.append(consumer)
        return consumer

    async def consuming(self) -> dict[str, int]:
        return await self._watch.consuming() if self._watch is not None else {}

    async def is_healthy(self) -> bool:
        confirmed = self._confirmed
        return (
            self._connection is not None
            and link_up(self._connection)
            and confirmed is not None
            and not confirmed.is_closed
        )

    async def dead_letters(self, queue: str) -> int:
        return await self._message_count(self._names.dead_letter_queue(queue))

    async def queue_depth(self, queue: str) -> int:
        return await self._message_count(self._names.queue(queue))

    async def queue_counts(self, queues: Sequence[str]) -> dict[str, QueueCounts]:
        # One channel for all of them, and one declare per queue for both of its figures: the
        # scheduler reads these every few seconds, and each channel opened and closed costs
        # this process and RabbitMQ three round trips (a quarter of an idle scheduler's CPU).
        channel = await self._require_connection().channel()
        try:
            counts = {}
            for queue in queues:
                work = await channel.declare_queue(self._names.queue(queue), passive=True)
                dead = await channel.declare_queue(
                    self._names.dead_letter_queue(queue), passive=True
                )
                counts[queue] = QueueCounts(
                    messages=int(work.declaration_result.message_count or 0),
                    consumers=int(work.declaration_result.consumer_count or 0),
                    dead_letters=int(dead.declaration_result.message_count or 0),
                )
            return counts
        finally:
            await channel.close()

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


async def _settle(incoming: AbstractIncomingMessage, outcome: Outcome, queue: str) -> None:
    """Ack, dead-letter or requeue, bounded: a message whose channel died under it cannot be
    settled any more, and the broker has already returned it to the queue (a redelivery the
    idempotent consumers tolerate). Never raises, so the consumer carries on."""
    try:
        if outcome is Outcome.ACK:
            settling = incoming.ack()
        elif outcome is Outcome.DEAD_LETTER:
            settling = incoming.reject(requeue=False)
        else:
            settling = incoming.nack(requeue=True)
        await asyncio.wait_for(settling, SETTLE_TIMEOUT_SECONDS)
    except Exception as e:
        log.warning("message_not_settled", queue=queue, outcome=outcome.value, error=repr(e))

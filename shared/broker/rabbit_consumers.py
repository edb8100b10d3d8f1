"""RabbitMQ consumers that come back by themselves, and the watch that makes sure they do.

aio-pika's robust connection re-opens channels and re-declares what they declared after a
reconnect, and re-consumes their queues. It does so only for queues the channel itself holds
(`declare_queue`, not `get_queue(ensure=False)`: such a consumer was never restored, and a
broker blip left every work queue with no consumer for ever). Robust recovery has failed us in
other ways too (a channel left closed after a missed heartbeat, a consumer cancelled by the
broker), so a watch looks at every consumer every few seconds and attaches a new channel to a
queue whose consumer is gone. Whether a consumer is attached is also what readiness and the
`docflow_consumers` gauge report.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared.broker.base import Subscription
from shared.loops import stray_cancellation

log = structlog.get_logger(__name__)

#: How long cancelling a consumer waits for the messages it is handling before closing the
#: channel (which returns whatever is still unacknowledged to the queue).
IN_HAND_GRACE_SECONDS = 60.0
#: How often the watch looks at every consumer.
WATCH_INTERVAL_SECONDS = 3.0
#: Looks in a row that must find a consumer detached before the watch replaces its channel:
#: robust recovery usually restores it first, and two consumers on one queue in one process
#: would double its prefetch.
MISSES_BEFORE_REATTACH = 2
#: Bound on each broker round trip the watch makes, so a black-holed link cannot hang it.
STEP_TIMEOUT_SECONDS = 5.0

#: Declares (or finds) the queue on a fresh channel, with its bindings.
Attach = Callable[[AbstractChannel], Awaitable[AbstractQueue]]
OnMessage = Callable[[AbstractIncomingMessage], Awaitable[None]]


def link_up(connection: AbstractRobustConnection) -> bool:
    """The robust connection has a live transport (it is not between a drop and a reconnect;
    its own `is_closed` only turns true once it was closed on purpose)."""
    transport = connection.transport
    return not connection.is_closed and transport is not None and not transport.connection.is_closed


class Consumer(Subscription):
    """One queue consumed on a channel of its own, re-attachable on a new channel."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        *,
        queue: str,
        attach: Attach,
        on_message: OnMessage,
        prefetch: int,
    ) -> None:
        #: The logical queue name, as readiness and metrics report it.
        self.queue = queue
        self._connection = connection
        self._attach = attach
        self._on_message = on_message
        self._prefetch = prefetch
        self._channel: AbstractChannel | None = None
        self._amqp_queue: AbstractQueue | None = None
        self._tag = ""
        self._cancelled = False
        self.misses = 0
        self.in_hand: set[asyncio.Task[Any]] = set()

    async def open(self) -> None:
        channel = await self._connection.channel()
        try:
            await channel.set_qos(prefetch_count=self._prefetch)
            amqp_queue = await self._attach(channel)
            tag = await amqp_queue.consume(self._tracked)
        except BaseException:
            with contextlib.suppress(Exception):
                await channel.close()
            raise
        self._channel, self._amqp_queue, self._tag = channel, amqp_queue, tag

    async def reattach(self) -> None:
        """Drop the old channel (so robust recovery cannot bring back a second consumer) and
        consume on a new one. Messages still unacknowledged on the old channel go back to the
        queue when it closes; consumers are idempotent."""
        old = self._channel
        self._channel = None
        if old is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.close(), STEP_TIMEOUT_SECONDS)
        await asyncio.wait_for(self.open(), STEP_TIMEOUT_SECONDS * 3)
        self.misses = 0
        log.warning("consumer_reattached", queue=self.queue)

    async def is_consuming(self) -> bool:
        """True while the broker delivers to this consumer: its channel is open and holds
        its consumer tag (a broker's basic.cancel removes the tag, a closed channel loses it)."""
        channel = self._channel
        if self._cancelled or channel is None or channel.is_closed:
            return False
        if not link_up(self._connection):
            return False
        try:
            underlay = cast(
                aiormq.Channel, await asyncio.wait_for(channel.get_underlay_channel(), 0.5)
            )
        except (TimeoutError, aiormq.exceptions.AMQPError, RuntimeError):
            return False
        return not underlay.is_closed and self._tag in underlay.consumers

    async def _tracked(self, incoming: AbstractIncomingMessage) -> None:
        me = asyncio.current_task()
        if me is not None:
            self.in_hand.add(me)
        try:
            await self._on_message(incoming)
        finally:
            if me is not None:
                self.in_hand.discard(me)

    async def cancel(self) -> None:
        """Stop deliveries first (basic.cancel), let the messages in hand finish and be
        acknowledged on this channel, then close it."""
        self._cancelled = True
        channel, amqp_queue = self._channel, self._amqp_queue
        if channel is None or amqp_queue is None:
            return
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(amqp_queue.cancel(self._tag), STEP_TIMEOUT_SECONDS)
            if self.in_hand:
                await asyncio.wait(set(self.in_hand), timeout=IN_HAND_GRACE_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(), STEP_TIMEOUT_SECONDS)

    @property
    def cancelled(self) -> bool:
        return self._cancelled


class ConsumerWatch:
    """Every few seconds, re-attach the consumers that stayed detached while the connection is
    up. Runs for the life of the broker; a failed re-attach is tried again on the next look."""

    def __init__(
        self, connection: AbstractRobustConnection, interval: float = WATCH_INTERVAL_SECONDS
    ) -> None:
        self._connection = connection
        self._interval = interval
        self.consumers: list[Consumer] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def consuming(self) -> dict[str, int]:
        """Attached consumers of this process by logical queue (0 for a detached one)."""
        counts: dict[str, int] = {}
        for consumer in self.consumers:
            if consumer.cancelled:
                continue
            counts[consumer.queue] = counts.get(consumer.queue, 0) + int(
                await consumer.is_consuming()
            )
        return counts

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.consumers = [c for c in self.consumers if not c.cancelled]
            try:
                await self.look_once()
            except asyncio.CancelledError:
                if not stray_cancellation():
                    raise
                # A CancelledError from inside aio-pika, not ours: one look failed.
                log.warning("consumer_watch_look_cancelled")
            except Exception:
                log.exception("consumer_watch_look_failed")

    async def look_once(self) -> None:
        for consumer in list(self.consumers):
            if consumer.cancelled or await consumer.is_consuming():
                consumer.misses = 0
                continue
            consumer.misses += 1
            log.warning("consumer_detached", queue=consumer.queue, looks=consumer.misses)
            if consumer.misses < MISSES_BEFORE_REATTACH or not link_up(self._connection):
                continue
            try:
                await consumer.reattach()
            except Exception as e:
                log.warning("consumer_reattach_failed", queue=consumer.queue, error=repr(e))

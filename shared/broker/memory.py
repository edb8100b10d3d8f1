"""In-process broker for `docflow dev`: the same delivery semantics in one event loop.

Messages are encoded and decoded exactly as on RabbitMQ, requeued until the delivery limit,
then dead-lettered, so the engine cannot tell the difference. Nothing survives a restart; the
outbox and the scheduler cover that, as they do for a lost RabbitMQ message.
"""

import asyncio
import contextlib
import re
from collections.abc import Callable, Sequence

import structlog

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
from shared.broker.topology import WORK_QUEUES, Names
from shared.errors import BrokerUnavailable
from shared.messages import (
    ExecutionEvent,
    Message,
    batches_by_name,
    decode,
    encode,
    unbatched,
)

log = structlog.get_logger(__name__)

#: How long cancelling a consumer waits for the messages its tasks are handling.
IN_HAND_GRACE_SECONDS = 60.0


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: `*` is one word, `#` is zero or more."""
    parts = []
    for word in pattern.split("."):
        parts.append(r"[^.]+" if word == "*" else r".*" if word == "#" else re.escape(word))
    regex = r"\.".join(parts).replace(r".*\.", r"(?:.*\.)?").replace(r"\..*", r"(?:\..*)?")
    return re.fullmatch(regex, key) is not None


class _Consumers(Subscription):
    """Worker tasks of one `consume` call. Cancelling stops them taking messages and lets the
    messages in hand finish (bounded), as basic.cancel does on RabbitMQ."""

    def __init__(self, queue: str, on_cancel: Callable[[], None]) -> None:
        self.queue = queue
        self.tasks: list[asyncio.Task[None]] = []
        self.busy: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._on_cancel = on_cancel

    async def cancel(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        self._on_cancel()
        for task in self.tasks:
            if task not in self.busy:
                task.cancel()
        in_hand = [task for task in self.tasks if task in self.busy]
        if in_hand:
            await asyncio.wait(in_hand, timeout=IN_HAND_GRACE_SECONDS)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _EventSubscription(Subscription):
    def __init__(self, broker: "MemoryBroker", entry: tuple[str, EventHandler]) -> None:
        self._broker, self._entry = broker, entry

    async def cancel(self) -> None:
        with contextlib.suppress(ValueError):
            self._broker._subscribers.remove(self._entry)


class MemoryBroker(Broker):
    def __init__(self, names: Names, *, delivery_limit: int) -> None:
        self._names = names
        self._delivery_limit = delivery_limit
        self._queues: dict[str, asyncio.Queue[tuple[bytes, int]]] = {}
        self._dead: dict[str, list[bytes]] = {}
        self._subscribers: list[tuple[str, EventHandler]] = []
        self._consumers: dict[str, int] = {}
        self._subscriptions: list[_Consumers] = []
        self._started = False

    async def start(self) -> None:
        for logical in WORK_QUEUES:
            self._queues.setdefault(logical, asyncio.Queue())
            self._dead.setdefault(logical, [])
        self._started = True

    async def close(self) -> None:
        self._started = False

    async def publish(self, queue: str, message: Message) -> None:
        if not self._started:
            raise BrokerUnavailable("in-process broker is closed")
        self._queues[queue].put_nowait((encode(message), 0))

    async def publish_events(self, events: Sequence[ExecutionEvent]) -> None:
        for batch in batches_by_name(events):
            # Through the wire format, as RabbitMQ would carry it.
            body = encode(batch)
            for pattern, handler in list(self._subscribers):
                if not topic_matches(pattern, batch.event):
                    continue
                for item in unbatched(decode(body)):
                    try:
                        await handler(item)
                    except Exception as e:
                        log.warning("event_handler_failed", error=repr(e))

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, give_up: GiveUp | None = None
    ) -> Subscription:
        source = self._queues[queue]
        self._consumers[queue] = self._consumers.get(queue, 0) + 1

        def detach() -> None:
            self._consumers[queue] -= 1

        consumers = _Consumers(queue, detach)
        self._subscriptions.append(consumers)

        async def worker() -> None:
            me = asyncio.current_task()
            assert me is not None
            while not consumers.stopping:
                body, deliveries = await source.get()
                consumers.busy.add(me)
                try:
                    last_try = deliveries + 1 >= self._delivery_limit
                    outcome = await deliver(body, handler, last_try=last_try, give_up=give_up)
                finally:
                    consumers.busy.discard(me)
                if outcome is Outcome.REQUEUE and deliveries + 1 < self._delivery_limit:
                    source.put_nowait((body, deliveries + 1))
                elif outcome is not Outcome.ACK:
                    self._dead[queue].append(body)

        consumers.tasks = [asyncio.create_task(worker()) for _ in range(prefetch)]
        return consumers

    async def subscribe_events(self, handler: EventHandler, pattern: str = "#") -> Subscription:
        entry = (pattern, handler)
        self._subscribers.append(entry)
        return _EventSubscription(self, entry)

    async def is_healthy(self) -> bool:
        return self._started

    async def consuming(self) -> dict[str, int]:
        self._subscriptions = [c for c in self._subscriptions if not c.stopping]
        counts: dict[str, int] = {}
        for consumers in self._subscriptions:
            alive = any(not task.done() for task in consumers.tasks)
            counts[consumers.queue] = counts.get(consumers.queue, 0) + int(alive)
        return counts

    async def dead_letters(self, queue: str) -> int:
        return len(self._dead[queue])

    async def queue_depth(self, queue: str) -> int:
        return self._queues[queue].qsize()

    async def queue_counts(self, queues: Sequence[str]) -> dict[str, QueueCounts]:
        return {
            queue: QueueCounts(
                messages=await self.queue_depth(queue),
                consumers=self._consumers.get(queue, 0),
                dead_letters=await self.dead_letters(queue),
            )
            for queue in queues
        }

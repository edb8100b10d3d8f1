"""What every broker adapter offers, and the one ack policy they share."""

import abc
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from shared.errors import UndecodableMessage
from shared.messages import ExecutionEvent, Message, decode

Handler = Callable[[Message], Awaitable[None]]
EventHandler = Callable[[ExecutionEvent], Awaitable[None]]
#: Told of a message whose handler failed on its last delivery, before the queue dead-letters
#: it: the consumer's chance to record that the work the message stood for will not happen.
GiveUp = Callable[[Message, Exception], Awaitable[None]]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class QueueCounts:
    messages: int
    consumers: int
    dead_letters: int


class Outcome(enum.Enum):
    ACK = "ack"
    #: Rejected without requeue: the queue's dead-letter exchange takes it.
    DEAD_LETTER = "dead_letter"
    #: Returned to the queue; the delivery limit bounds how often.
    REQUEUE = "requeue"


async def deliver(
    body: bytes, handler: Handler, *, last_try: bool = False, give_up: GiveUp | None = None
) -> Outcome:
    """The ack policy in one place: done: ack; undecodable: dead-letter; other error: requeue
    (the queue dead-letters it after its delivery limit; on that last try `give_up` hears of
    it first)."""
    try:
        message = decode(body)
    except UndecodableMessage as e:
        log.error("message_undecodable", error=str(e)[:500])
        return Outcome.DEAD_LETTER
    try:
        await handler(message)
    except Exception as e:
        log.exception(
            "message_handler_failed", message_type=getattr(message, "type", None), last_try=last_try
        )
        if last_try and give_up is not None:
            try:
                await give_up(message, e)
            except Exception:
                log.exception("give_up_failed", message_type=getattr(message, "type", None))
        return Outcome.REQUEUE
    return Outcome.ACK


class Subscription(abc.ABC):
    @abc.abstractmethod
    async def cancel(self) -> None: ...


class Broker(abc.ABC):
    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and declare the topology (idempotent)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def publish(self, queue: str, message: Message) -> None:
        """Persistent and confirmed; raises BrokerUnavailable when it cannot be confirmed."""

    @abc.abstractmethod
    async def publish_events(self, events: Sequence[ExecutionEvent]) -> None:
        """Best effort on the events exchange, one message per event name (routing key = the
        name); never raises (the steps table is the record)."""

    @abc.abstractmethod
    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, give_up: GiveUp | None = None
    ) -> Subscription:
        """Handle `queue`'s messages, `prefetch` at once; see `deliver` for acks and `give_up`."""

    @abc.abstractmethod
    async def subscribe_events(self, handler: EventHandler, pattern: str = "#") -> Subscription:
        """Receive execution events published from now on (a private, transient queue)."""

    @abc.abstractmethod
    async def is_healthy(self) -> bool: ...

    @abc.abstractmethod
    async def dead_letters(self, queue: str) -> int:
        """How many messages wait in `queue`'s dead-letter queue."""

    @abc.abstractmethod
    async def queue_depth(self, queue: str) -> int: ...

    async def consuming(self) -> dict[str, int]:
        """This process's own consumers that the broker delivers to, by logical queue: a queue
        it subscribed to whose consumer is detached (its channel lost, cancelled by the
        broker) shows 0. For readiness and the `docflow_consumers` gauge."""
        return {}

    async def queue_counts(self, queues: Sequence[str]) -> dict[str, QueueCounts]:
        """The queue gauges' figures for each of `queues`, read together."""
        raise NotImplementedError

"""One subscription to the execution events, shared by every live stream of this gateway.

Events are only wake-ups here: a stream that is woken reads the steps table, which is the
durable record, so an event lost on the way (they are best effort) delays a stream by one poll
at worst, and never changes what it sends.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from shared.broker.base import Broker, Subscription
from shared.messages import ExecutionEvent


class EventHub:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._subscription: Subscription | None = None
        self._subscribing = asyncio.Lock()
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        #: Set when the gateway shuts down: every stream ends.
        self.closing = asyncio.Event()

    @contextlib.asynccontextmanager
    async def watch(self, execution_id: uuid.UUID) -> AsyncIterator[asyncio.Event]:
        """An event set whenever `execution_id` publishes something (or the hub closes).

        Subscribed before it is returned, so a caller that reads the database afterwards
        cannot miss a change committed between its read and its first wait.
        """
        await self._subscribe()
        wake = asyncio.Event()
        self._waiters.setdefault(execution_id, set()).add(wake)
        try:
            yield wake
        finally:
            waiters = self._waiters.get(execution_id, set())
            waiters.discard(wake)
            if not waiters:
                self._waiters.pop(execution_id, None)

    async def _subscribe(self) -> None:
        async with self._subscribing:
            if self._subscription is None:
                self._subscription = await self._broker.subscribe_events(self._on_event, "#")

    async def _on_event(self, event: ExecutionEvent) -> None:
        for wake in self._waiters.get(event.execution_id, ()):
            wake.set()

    async def close(self) -> None:
        self.closing.set()
        for waiters in self._waiters.values():
            for wake in waiters:
                wake.set()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.cancel()

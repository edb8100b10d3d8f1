"""Publishing what a request committed, with the outbox deletes batched.

A row's delete only tidies up after the broker confirmed its message, so it need not be a
transaction of its own per request: confirmed ids wait here, and one DELETE removes them every
`every_seconds` (sooner once `batch` ids wait). That halves the transactions of a run request.

Guarantees: an id is handed over only after its publish was confirmed, so no row is deleted
unpublished; `close()` deletes whatever waits. A row whose delete is lost (a crash, a failed
DELETE) stays behind, and the scheduler's relay publishes it again after
`outbox_relay_after_seconds` — a duplicate, which consumers tolerate, never a loss.
"""

import asyncio
import contextlib
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.broker.base import Broker
from shared.outbox import Staged, delete_confirmed, publish_in_order

log = structlog.get_logger(__name__)


#: At a steady 20 requests/s a 50 ms window held one row: a DELETE per request, a quarter of
#: the gateway's CPU per event (2.4 against 3.0 ms measured with bench/events.py, phase 1).
#: Half a second gathers ten rows at that rate and stays a tenth of the relay's default
#: `outbox_relay_after_seconds`, so a confirmed row is deleted long before it could be relayed.
EVERY_SECONDS = 0.5
BATCH = 100


class OutboxPublisher:
    def __init__(
        self,
        broker: Broker,
        engine: AsyncEngine,
        *,
        every_seconds: float = EVERY_SECONDS,
        batch: int = BATCH,
    ) -> None:
        self._broker = broker
        self._engine = engine
        self._every = every_seconds
        self._batch = batch
        self._confirmed: list[int] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    async def publish(self, staged: Sequence[Staged]) -> int:
        """Publish in order until the broker refuses one (the rest wait for the relay); the
        confirmed rows are deleted with the next batch. Never raises."""
        published = await publish_in_order(self._broker, staged)
        self._hand_over(published)
        return len(published)

    def _hand_over(self, ids: list[int]) -> None:
        if not ids:
            return
        if self._closing:
            # Only a publish that outlived the shutdown drain gets here; its rows go to the
            # relay rather than keep a flusher alive past close().
            log.warning("outbox_delete_after_close", count=len(ids))
            return
        self._confirmed.extend(ids)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._run(), name="outbox-deletes")
        self._arrived.set()
        if len(self._confirmed) >= self._batch:
            self._full.set()

    @property
    def waiting(self) -> int:
        """Confirmed rows not deleted yet."""
        return len(self._confirmed)

    async def _run(self) -> None:
        while not self._closing:
            await self._arrived.wait()
            # Let a batch gather, unless it is full already.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._every)
            self._arrived.clear()
            self._full.clear()
            await self._delete_confirmed()

    async def _delete_confirmed(self) -> None:
        ids, self._confirmed = self._confirmed, []
        await delete_confirmed(self._engine, ids)

    async def close(self) -> None:
        """Delete whatever confirmed rows wait, and stop. Call after the publishes ended."""
        self._closing = True
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            # Woken rather than cancelled, so a DELETE in progress is never cut off.
            self._arrived.set()
            self._full.set()
            await asyncio.wait([flusher])
        await self._delete_confirmed()

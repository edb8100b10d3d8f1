"""Duty: refresh the gauges nobody increments — open waits, queue depths, consumers, dead letters.

Prometheus scrapes whenever it likes, so these are read on the scheduler's clock instead and
kept at most `interval` old. Every known kind and queue is always set (0 included), so a
dashboard shows a flat line rather than "no data" on a quiet system.
"""

import time
from collections.abc import Callable
from datetime import timedelta

import structlog
from sqlalchemy import func, select

from shared.broker.topology import WORK_QUEUES
from shared.db.tables import OutboxMessage, Wait
from shared.db.types import utcnow
from shared.metrics import WAIT_KINDS
from shared.runtime import Resources
from shared.status import WaitStatus

log = structlog.get_logger(__name__)

#: A row younger than this is still in its publisher's hands: published and deleted in the
#: normal course (the gateway gathers deletes for half a second), not a backlog.
OUTBOX_GRACE = timedelta(seconds=1)

#: Seconds between refreshes; a scheduler pass runs far more often than that.
DEFAULT_INTERVAL_SECONDS = 5.0
#: The share of one core the open-waits count may take, timed as it runs. Counting reads every
#: open wait (ix_waits_open_kind, or the table when nearly every wait is open), so with many
#: runs parked it is counted less often instead of costing more: 15 to 35 ms for 100,000 open
#: waits → every 7.5 to 17.5 s; ten times that for a million → every 75 to 175 s. The queue and
#: outbox gauges cost the same however many runs wait, so they keep `interval`.
WAIT_COUNT_SHARE = 0.002


class GaugeRefresher:
    """A scheduler duty that does its work only once per `interval` seconds, and counts the
    open waits no more often than `WAIT_COUNT_SHARE` allows."""

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        *,
        wait_count_share: float = WAIT_COUNT_SHARE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._share = wait_count_share
        self._clock = clock
        self._last = float("-inf")
        self._next_wait_count = float("-inf")

    async def __call__(self, resources: Resources, *, batch: int) -> int:
        now = self._clock()
        if now - self._last < self._interval:
            return 0
        self._last = now
        if now >= self._next_wait_count:
            await refresh_wait_gauges(resources)
            took = self._clock() - now
            self._next_wait_count = now + max(self._interval, took / self._share)
        await refresh_outbox_gauge(resources)
        await refresh_queue_gauges(resources)
        # Never "a full batch": refreshing gauges must not make the scheduler hurry.
        return 0


async def refresh_wait_gauges(resources: Resources) -> None:
    async with resources.sessions() as session:
        rows = (
            await session.execute(
                select(Wait.kind, func.count())
                .where(Wait.status == WaitStatus.OPEN)
                .group_by(Wait.kind)
            )
        ).all()
    counts = {kind: int(count) for kind, count in rows}
    for kind in {*WAIT_KINDS, *counts}:
        resources.metrics.waits_open.labels(kind=kind).set(counts.get(kind, 0))


async def refresh_outbox_gauge(resources: Resources) -> None:
    # Here, not in every relay pass: the outbox is emptied as fast as it fills, but its table
    # holds every deleted row until vacuumed, and counting it once a second cost 20 ms a time
    # (a parallel scan) after 100,000 runs were parked.
    async with resources.sessions() as session:
        backlog = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.created_at < utcnow() - OUTBOX_GRACE)
        )
    resources.metrics.outbox_backlog.set(backlog or 0)


async def refresh_queue_gauges(resources: Resources) -> None:
    metrics = resources.metrics
    try:
        counts = await resources.broker.queue_counts(WORK_QUEUES)
    except Exception as e:  # a broker blip leaves the last values; the next pass retries
        log.warning("queue_gauges_failed", error=repr(e))
        return
    for queue, count in counts.items():
        metrics.queue_messages.labels(queue=queue).set(count.messages)
        metrics.queue_consumers.labels(queue=queue).set(count.consumers)
        metrics.dead_letters.labels(queue=queue).set(count.dead_letters)

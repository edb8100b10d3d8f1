"""Duty: refresh the gauges nobody increments — open waits, queue depths, consumers, dead letters.

Prometheus scrapes whenever it likes, so these are read on the scheduler's clock instead and
kept at most `interval` old. Every known kind and queue is always set (0 included), so a
dashboard shows a flat line rather than "no data" on a quiet system.
"""

import time

import structlog
from sqlalchemy import func, select

from shared.broker.topology import WORK_QUEUES
from shared.db.tables import Wait
from shared.metrics import WAIT_KINDS
from shared.runtime import Resources
from shared.status import WaitStatus

log = structlog.get_logger(__name__)

#: Seconds between refreshes; a scheduler pass runs far more often than that.
DEFAULT_INTERVAL_SECONDS = 5.0


class GaugeRefresher:
    """A scheduler duty that does its work only once per `interval` seconds."""

    def __init__(self, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self._interval = interval
        self._last = float("-inf")

    async def __call__(self, resources: Resources, *, batch: int) -> int:
        now = time.monotonic()
        if now - self._last < self._interval:
            return 0
        self._last = now
        await refresh_wait_gauges(resources)
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


async def refresh_queue_gauges(resources: Resources) -> None:
    broker, metrics = resources.broker, resources.metrics
    for queue in WORK_QUEUES:
        try:
            metrics.queue_messages.labels(queue=queue).set(await broker.queue_depth(queue))
            metrics.queue_consumers.labels(queue=queue).set(await broker.consumer_count(queue))
            metrics.dead_letters.labels(queue=queue).set(await broker.dead_letters(queue))
        except Exception as e:  # a broker blip leaves the last values; the next pass retries
            log.warning("queue_gauges_failed", queue=queue, error=repr(e))
            return

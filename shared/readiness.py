"""Whether a process can do its job now: the checks behind every `/readyz`.

A process is ready when its database answers, its broker connection is up, and every queue it
subscribed to has a consumer of its own that the broker delivers to. The last check is what a
broker blip used to break silently: the connection came back, the consumers did not, and the
process said it was ready while nothing consumed.
"""

import asyncio
from collections.abc import Awaitable

import structlog
from sqlalchemy import text

from shared.runtime import Resources

log = structlog.get_logger(__name__)

#: A readiness probe must answer before the orchestrator's own timeout.
CHECK_TIMEOUT_SECONDS = 2.0


async def readiness_checks(resources: Resources) -> dict[str, bool]:
    """Each check by name; all must pass for the process to be ready. Bounded in time."""
    return {
        "database": await _passes(_database_answers(resources), "database"),
        "broker": await _passes(resources.broker.is_healthy(), "broker"),
        "consumers": await _passes(_every_queue_consumed(resources), "consumers"),
    }


async def refresh_consumer_gauge(resources: Resources) -> dict[str, int]:
    """Set `docflow_consumers` from this process's own consumers; returns what it set."""
    consuming = await resources.broker.consuming()
    for queue, count in consuming.items():
        resources.metrics.consumers.labels(queue=queue).set(count)
    return consuming


async def _database_answers(resources: Resources) -> bool:
    async with resources.engine.connect() as connection:
        return bool(await connection.scalar(text("SELECT 1")) == 1)


async def _every_queue_consumed(resources: Resources) -> bool:
    consuming = await refresh_consumer_gauge(resources)
    detached = sorted(queue for queue, count in consuming.items() if count == 0)
    if detached:
        log.warning("readiness_consumers_detached", queues=detached)
    return not detached


async def _passes(check: Awaitable[bool], name: str) -> bool:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except Exception as e:
        log.warning("readiness_check_failed", check=name, error=repr(e))
        return False

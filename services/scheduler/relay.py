"""Duty: publish outbox rows their committing process left behind (e.g. the broker was down)."""

from datetime import timedelta

from sqlalchemy import func, select

from shared.db.tables import OutboxMessage
from shared.outbox import relay_stranded
from shared.runtime import Resources


async def relay_outbox(resources: Resources, *, batch: int) -> int:
    """Relay stranded rows, then report what is still waiting as the backlog gauge."""
    relayed = await relay_stranded(
        resources.sessions,
        resources.broker,
        older_than=timedelta(seconds=resources.settings.outbox_relay_after_seconds),
        batch=batch,
    )
    resources.metrics.outbox_relayed.inc(relayed)
    async with resources.sessions() as session:
        backlog = await session.scalar(select(func.count()).select_from(OutboxMessage))
    resources.metrics.outbox_backlog.set(backlog or 0)
    return relayed

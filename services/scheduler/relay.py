"""Duty: publish outbox rows their committing process left behind (e.g. the broker was down)."""

from datetime import timedelta

from shared.outbox import relay_stranded
from shared.runtime import Resources


async def relay_outbox(resources: Resources, *, batch: int) -> int:
    """Relay stranded rows (what is still waiting is a gauge: gauges.py)."""
    relayed = await relay_stranded(
        resources.sessions,
        resources.broker,
        older_than=timedelta(seconds=resources.settings.outbox_relay_after_seconds),
        batch=batch,
    )
    resources.metrics.outbox_relayed.inc(relayed)
    return relayed

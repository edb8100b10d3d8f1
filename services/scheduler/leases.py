"""Duty: fence workers whose lease expired and re-publish their runs (the FENCE move,
shared/state_machine/lease.py)."""

import structlog

from shared.outbox import publish_staged
from shared.runtime import Resources
from shared.state_machine.lease import FENCED as REASON
from shared.state_machine.lease import fence_expired

__all__ = ["REASON", "fence_expired_leases"]

log = structlog.get_logger(__name__)


async def fence_expired_leases(resources: Resources, *, batch: int) -> int:
    """Fence up to `batch` expired leases; returns how many runs were re-published."""
    fenced = await fence_expired(
        resources.sessions, owner=resources.settings.worker_id, batch=batch
    )
    for execution_id, version, _ in fenced:
        log.warning("lease_expired_fenced", execution_id=str(execution_id), version=version)
    await publish_staged(resources.sessions, resources.broker, [staged for *_, staged in fenced])
    return len(fenced)

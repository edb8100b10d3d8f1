"""Duty: fence workers whose lease expired and re-publish their runs.

Bumping `version` is the fence: the dead (or merely slow) worker's next checkpoint is guarded by
the version it saw, so it fails and the worker stops without side effects. Clearing
`lease_owner` is what lets an executor claim the `running` row again.
"""

import structlog
from sqlalchemy import insert, select, update

from shared.broker.topology import RUN
from shared.db.tables import Execution, ExecutionTransition
from shared.db.types import utcnow
from shared.messages import RunExecution
from shared.outbox import Staged, publish_staged, stage
from shared.runtime import Resources

log = structlog.get_logger(__name__)

REASON = "lease expired; re-published"


async def fence_expired_leases(resources: Resources, *, batch: int) -> int:
    """Fence up to `batch` expired leases; returns how many runs were re-published.

    The rows are locked with SKIP LOCKED, so a second scheduler takes other rows, and each
    fence is a compare-and-set on `version`, so a row another writer moved meanwhile (the
    worker's own checkpoint, another scheduler) is left alone.
    """
    now = utcnow()
    staged: list[Staged] = []
    async with resources.sessions.begin() as session:
        expired = (
            await session.execute(
                select(Execution.id, Execution.version)
                .where(
                    Execution.status == "running",
                    Execution.lease_owner.is_not(None),
                    Execution.lease_expires_at < now,
                )
                .order_by(Execution.lease_expires_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for execution_id, seen in expired:
            fenced = await session.scalar(
                update(Execution)
                .where(
                    Execution.id == execution_id,
                    Execution.version == seen,
                    Execution.status == "running",
                    Execution.lease_expires_at < now,
                )
                .values(lease_owner=None, version=Execution.version + 1)
                .returning(Execution.id)
            )
            if fenced is None:
                continue
            await session.execute(
                insert(ExecutionTransition).values(
                    execution_id=execution_id,
                    from_status="running",
                    to_status="running",
                    reason=REASON,
                    worker=resources.settings.worker_id,
                    at=now,
                )
            )
            staged.append(await stage(session, RUN, RunExecution(execution_id=execution_id)))
            log.warning("lease_expired_fenced", execution_id=str(execution_id), version=seen + 1)
    await publish_staged(resources.sessions, resources.broker, staged)
    return len(staged)

"""Failing an execution that no worker could run: its run message failed on every delivery.

Without this, a message that fails for a reason of its own (a node type this executor lacks,
a definition it cannot read) is dead-lettered and its execution stays `queued`, or `running`
until the lease sweep hands it out again to fail the same way, with nothing to tell anyone.
Failed, it shows why, and `retry` continues it once the cause is fixed.
"""

import uuid
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.claims import record_transition
from shared.db.tables import Execution, ExecutionStep
from shared.db.types import utcnow
from shared.status import ExecutionStatus as S


async def fail_undeliverable(
    engine: AsyncEngine, execution_id: uuid.UUID, *, error: str, owner: str
) -> Row[Any] | None:
    """Fail the execution unless it moved on or another worker holds it; its row, or None."""
    now = utcnow()
    # Queued, or running but held by nobody alive but us: a run someone else is running is
    # theirs to finish, whatever became of this copy of its message.
    ours = or_(
        Execution.status == S.QUEUED,
        and_(
            Execution.status == S.RUNNING,
            or_(
                Execution.lease_owner.is_(None),
                Execution.lease_owner == owner,
                Execution.lease_expires_at < now,
            ),
        ),
    )
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(Execution.__table__).where(Execution.id == execution_id, ours)
            )
        ).first()
        if row is None:
            return None
        started = row.started_at
        moved = await conn.execute(
            update(Execution)
            .where(Execution.id == execution_id, Execution.version == row.version)
            .values(
                status=S.FAILED.value,
                version=Execution.version + 1,
                lease_owner=None,
                lease_expires_at=None,
                error=error,
                finished_at=now,
                execution_time_ms=int((now - started).total_seconds() * 1000) if started else None,
            )
        )
        if moved.rowcount != 1:
            return None
        # An attempt left running by the failing worker ends with the same reason.
        await conn.execute(
            update(ExecutionStep)
            .where(ExecutionStep.execution_id == execution_id, ExecutionStep.status == "running")
            .values(status="failed", completed_at=now, error=error)
        )
        await record_transition(conn, execution_id, row.status, S.FAILED, error, owner)
        return row

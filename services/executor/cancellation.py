"""Cancelling an execution: a compare-and-set to `cancelled` that also closes what it waits on.

A worker still running the execution finds its next checkpoint refused (the version moved) and
stops without further effects.
"""

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.claims import record_transition
from services.executor.nodes.approval_rows import cancel_pending
from shared.db.tables import Execution, ExecutionStep, Wait
from shared.db.types import utcnow
from shared.status import ExecutionStatus as S
from shared.status import sources_of


async def cancel(
    engine: AsyncEngine, execution_id: uuid.UUID, *, reason: str, owner: str
) -> Row[Any] | None:
    """Return the cancelled execution's row, or None when it was already final or is unknown."""
    now = utcnow()
    cancellable = [status.value for status in sources_of(S.CANCELLED)]
    async with engine.begin() as conn:
        row = (
            await conn.execute(select(Execution.__table__).where(Execution.id == execution_id))
        ).first()
        if row is None or row.status not in cancellable:
            return None
        started = row.started_at
        moved = await conn.execute(
            update(Execution)
            .where(
                Execution.id == execution_id,
                Execution.version == row.version,
                Execution.status.in_(cancellable),
            )
            .values(
                status=S.CANCELLED.value,
                version=Execution.version + 1,
                lease_owner=None,
                lease_expires_at=None,
                error=reason,
                finished_at=now,
                execution_time_ms=int((now - started).total_seconds() * 1000) if started else None,
            )
        )
        if moved.rowcount != 1:
            return None
        await conn.execute(
            update(Wait)
            .where(Wait.execution_id == execution_id, Wait.status == "open")
            .values(status="cancelled", decided_at=now, decision={"outcome": "cancelled"})
        )
        await cancel_pending(conn, execution_id, now)
        await conn.execute(
            update(ExecutionStep)
            .where(
                ExecutionStep.execution_id == execution_id,
                ExecutionStep.status.in_(["running", "waiting"]),
            )
            .values(status="cancelled", completed_at=now, error=reason)
        )
        await record_transition(conn, execution_id, row.status, S.CANCELLED, reason, owner)
        return row

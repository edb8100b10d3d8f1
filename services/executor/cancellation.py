"""Ending an execution early: a compare-and-set to `cancelled` (or, for runs no executor can
go on with, `failed`) that also closes what it waits on.

A worker still running the execution finds its next checkpoint refused (the version moved) and
stops without further effects.
"""

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.executor.claims import record_transition
from services.executor.nodes.approval_rows import cancel_pending
from shared.db.tables import Execution, ExecutionStep, Wait
from shared.db.types import utcnow
from shared.esign.cancel import request_cancellation
from shared.status import ExecutionStatus as S
from shared.status import sources_of


async def cancel(
    engine: AsyncEngine, execution_id: uuid.UUID, *, reason: str, owner: str
) -> Row[Any] | None:
    """Return the cancelled execution's row, or None when it was already final or is unknown."""
    cancellable = [status.value for status in sources_of(S.CANCELLED)]
    async with engine.begin() as conn:
        row = (
            await conn.execute(select(Execution.__table__).where(Execution.id == execution_id))
        ).first()
        if row is None or row.status not in cancellable:
            return None
        return row if await end(conn, row, S.CANCELLED, reason=reason, owner=owner) else None


async def end(conn: AsyncConnection, row: Row[Any], status: S, *, reason: str, owner: str) -> bool:
    """Move the execution read as `row` to the final `status` (compare-and-set on its
    version), closing what it waits on: open waits, pending approvals, unfinished steps, open
    signature requests (cancelled at their provider by the scheduler).
    False when it moved on since `row` was read."""
    now = utcnow()
    started = row.started_at
    moved = await conn.execute(
        update(Execution)
        .where(Execution.id == row.id, Execution.version == row.version)
        .values(
            status=status.value,
            version=Execution.version + 1,
            lease_owner=None,
            lease_expires_at=None,
            error=reason,
            finished_at=now,
            execution_time_ms=int((now - started).total_seconds() * 1000) if started else None,
        )
    )
    if moved.rowcount != 1:
        return False
    await conn.execute(
        update(Wait)
        .where(Wait.execution_id == row.id, Wait.status == "open")
        .values(status="cancelled", decided_at=now, decision={"outcome": status.value})
    )
    await cancel_pending(conn, row.id, now)
    # Signers must not go on signing for a run that is over: the scheduler cancels them there.
    await request_cancellation(
        conn, row.id, reason=f"the execution was {status.value}: {reason}", now=now
    )
    await conn.execute(
        update(ExecutionStep)
        .where(
            ExecutionStep.execution_id == row.id,
            ExecutionStep.status.in_(["running", "waiting"]),
        )
        .values(status=status.value, completed_at=now, error=reason)
    )
    await record_transition(conn, row.id, row.status, status, reason, owner)
    return True

"""Ending an execution early: CANCEL on request, GIVE UP on a run no executor can go on with.

Both are a compare-and-set on status and `version` to a final status that also closes what
the run waits on. A worker still running the execution finds its next checkpoint refused (the
version moved) and stops without further effects.

GIVE UP exists because a message that fails for a reason of its own (a node type this
executor lacks, a definition it cannot read, a bug in a node's settle rule) is dead-lettered,
and its execution would stay `queued`, `paused` or `running`, handed out again by the fence to
fail the same way, with nothing to tell anyone. Failed, it shows why, and `retry` continues
it once the cause is fixed.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.tables import Approval, Execution, ExecutionStep, Wait
from shared.db.types import utcnow
from shared.esign.cancel import request_cancellation
from shared.state_machine.lease import lease_gone
from shared.state_machine.moves import CANCEL, GIVE_UP, Move
from shared.state_machine.transitions import record_transition
from shared.status import ApprovalStatus, StepStatus, WaitStatus
from shared.status import ExecutionStatus as S


async def cancel(
    engine: AsyncEngine, execution_id: uuid.UUID, *, reason: str, owner: str
) -> Row[Any] | None:
    """CANCEL; the cancelled execution's row, or None when it was already final or unknown."""
    return await _end_where(engine, execution_id, CANCEL.guard(), S.CANCELLED, reason, owner)


async def fail_undeliverable(
    engine: AsyncEngine, execution_id: uuid.UUID, *, error: str, owner: str
) -> Row[Any] | None:
    """GIVE UP on a run its run message could not start or continue, unless it moved on or
    another worker holds it; its row, or None."""
    now = utcnow()
    # Queued, or running but held by nobody alive but us: a run someone else is running is
    # theirs to finish, whatever became of this copy of its message.
    ours = or_(
        Execution.status == S.QUEUED,
        and_(
            Execution.status == S.RUNNING,
            or_(lease_gone(now), Execution.lease_owner == owner),
        ),
    )
    return await _end_where(engine, execution_id, ours, S.FAILED, error, owner)


async def fail_unresumable(
    engine: AsyncEngine, execution_id: uuid.UUID, wait_id: uuid.UUID, *, error: str, owner: str
) -> Row[Any] | None:
    """GIVE UP on a paused run whose resume could not be applied, while the wait it was for is
    still the open one (a resume for a wait since closed says nothing about the run now)."""
    still_waiting = and_(
        Execution.status == S.PAUSED,
        exists().where(
            Wait.id == wait_id, Wait.execution_id == execution_id, Wait.status == WaitStatus.OPEN
        ),
    )
    return await _end_where(engine, execution_id, still_waiting, S.FAILED, error, owner)


async def _end_where(
    engine: AsyncEngine,
    execution_id: uuid.UUID,
    condition: Any,
    status: S,
    reason: str,
    owner: str,
) -> Row[Any] | None:
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(Execution.__table__).where(Execution.id == execution_id, condition)
            )
        ).first()
        if row is None:
            return None
        return row if await end(conn, row, status, reason=reason, owner=owner) else None


_ENDING: dict[S, Move] = {S.CANCELLED: CANCEL, S.FAILED: GIVE_UP}


async def end(conn: AsyncConnection, row: Row[Any], status: S, *, reason: str, owner: str) -> bool:
    """Move the execution read as `row` to the final `status` (`cancelled` or `failed`;
    compare-and-set on its status and version), closing what it waits on: open waits, pending
    approvals, unfinished steps, open signature requests (cancelled at their provider by the
    scheduler). False when it moved on since `row` was read."""
    now = utcnow()
    started = row.started_at
    moved = await conn.execute(
        update(Execution)
        .where(Execution.id == row.id, Execution.version == row.version, _ENDING[status].guard())
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
        .where(Wait.execution_id == row.id, Wait.status == WaitStatus.OPEN)
        .values(status=WaitStatus.CANCELLED, decided_at=now, decision={"outcome": status.value})
    )
    await _close_pending_approvals(conn, row.id, now)
    # Signers must not go on signing for a run that is over: the scheduler cancels them there.
    await request_cancellation(
        conn, row.id, reason=f"the execution was {status.value}: {reason}", now=now
    )
    await conn.execute(
        update(ExecutionStep)
        .where(
            ExecutionStep.execution_id == row.id,
            ExecutionStep.status.in_([StepStatus.RUNNING, StepStatus.WAITING]),
        )
        .values(status=StepStatus(status.value), completed_at=now, error=reason)
    )
    await record_transition(conn, row.id, row.status, status, reason, owner)
    return True


async def _close_pending_approvals(
    conn: AsyncConnection, execution_id: uuid.UUID, at: datetime
) -> None:
    """The approvers still pending on an ended execution: their links die with it."""
    await conn.execute(
        update(Approval)
        .where(Approval.execution_id == execution_id, Approval.status == ApprovalStatus.PENDING)
        .values(status=ApprovalStatus.CANCELLED, decided_at=at, next_reminder_at=None)
    )

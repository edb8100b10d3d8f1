"""Failing an execution that no executor can go on with: its run or resume message failed on
every delivery.

Without this, a message that fails for a reason of its own (a node type this executor lacks,
a definition it cannot read, a bug in a node's settle rule) is dead-lettered and its execution
stays `queued`, `paused`, or `running` until the lease sweep hands it out again to fail the
same way, with nothing to tell anyone. Failed, it shows why, and `retry` continues it once the
cause is fixed.
"""

import uuid
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.cancellation import end
from shared.db.tables import Execution, Wait
from shared.db.types import utcnow
from shared.status import ExecutionStatus as S


async def fail_undeliverable(
    engine: AsyncEngine, execution_id: uuid.UUID, *, error: str, owner: str
) -> Row[Any] | None:
    """Fail a run its run message could not start or continue, unless it moved on or another
    worker holds it; its row, or None."""
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
    return await _fail(engine, execution_id, ours, error=error, owner=owner)


async def fail_unresumable(
    engine: AsyncEngine, execution_id: uuid.UUID, wait_id: uuid.UUID, *, error: str, owner: str
) -> Row[Any] | None:
    """Fail a paused run whose resume could not be applied, while the wait it was for is still
    the open one (a resume for a wait since closed says nothing about the run now)."""
    still_waiting = and_(
        Execution.status == S.PAUSED,
        exists().where(
            Wait.id == wait_id, Wait.execution_id == execution_id, Wait.status == "open"
        ),
    )
    return await _fail(engine, execution_id, still_waiting, error=error, owner=owner)


async def _fail(
    engine: AsyncEngine, execution_id: uuid.UUID, condition: Any, *, error: str, owner: str
) -> Row[Any] | None:
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                select(Execution.__table__).where(Execution.id == execution_id, condition)
            )
        ).first()
        if row is None:
            return None
        return row if await end(conn, row, S.FAILED, reason=error, owner=owner) else None

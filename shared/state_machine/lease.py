"""The lease: HEARTBEAT (the holder extends it), RELEASE (the holder ends it early) and FENCE
(the scheduler ends one that expired). Each keeps the execution `running`; RELEASE and FENCE
bump `version`, so a write of the former holder is refused from then on, and log the move.

The fence is the one move no executor makes (ADR 019): a worker whose lease expired may be
dead, so someone else has to end it, and the scheduler is the service that watches time.
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from shared.broker.topology import RUN
from shared.db.tables import Execution
from shared.db.types import utcnow
from shared.messages import RunExecution
from shared.outbox import Staged, stage
from shared.state_machine.claimed import Held
from shared.state_machine.moves import FENCE, HEARTBEAT, RELEASE, Move
from shared.state_machine.transitions import record_transition
from shared.status import ExecutionStatus as S

RELEASED = "released by a stopping worker"
FENCED = "lease expired; re-published"


def held_by(held: Held, owner: str, move: Move) -> ColumnElement[bool]:
    """The holder's guard: this execution, at the version it last wrote, still its lease."""
    return and_(
        Execution.id == held.execution_id,
        Execution.version == held.version,
        Execution.lease_owner == owner,
        move.guard(),
    )


def lease_gone(now: datetime) -> ColumnElement[bool]:
    """Nobody holds the lease: handed back without an owner, or expired."""
    return or_(Execution.lease_owner.is_(None), Execution.lease_expires_at < now)


async def extend_lease(
    engine: AsyncEngine, held: Held, *, owner: str, lease_seconds: float
) -> bool:
    """HEARTBEAT; False when the row moved on (a version that is not `held`'s, or not ours)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(Execution)
            .where(held_by(held, owner, HEARTBEAT))
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        )
    return result.rowcount == 1


async def release(engine: AsyncEngine, held: Held, *, owner: str) -> Staged | None:
    """RELEASE by a stopping worker: end our lease now and stage a run message, so another
    worker goes on at once rather than after the lease expired.

    None when the row already moved on (our lease was fenced, or a checkpoint we could not see
    committed): then it is not ours to hand back, and nothing was written. The next claimer
    finds a `running` row whose lease has expired, the RECLAIM case, and goes on from
    `current_node_id`; a node we left mid-way is marked interrupted there. The owner is kept
    on purpose: should the run message be lost (the in-process broker of `docflow dev` dies
    with the process), the fence still finds an expired lease and re-publishes the run.
    """
    async with engine.begin() as conn:
        if not await _end_lease(conn, held, owner=owner, reason=RELEASED):
            return None
        return await stage(conn, RUN, RunExecution(execution_id=held.execution_id))


async def let_go(engine: AsyncEngine, held: Held, *, owner: str, error: BaseException) -> bool:
    """RELEASE after handling the execution failed, without a message of our own: the failed
    message goes back to its queue, and its next delivery reclaims the run at once (then, on
    its last, the run is failed for good: end.fail_undeliverable). False when it moved on."""
    reason = f"let go after an error: {error!r}"[:2000]
    async with engine.begin() as conn:
        return await _end_lease(conn, held, owner=owner, reason=reason)


async def _end_lease(conn: AsyncConnection, held: Held, *, owner: str, reason: str) -> bool:
    version = await conn.scalar(
        update(Execution)
        .where(held_by(held, owner, RELEASE))
        .values(lease_expires_at=utcnow(), version=Execution.version + 1)
        .returning(Execution.version)
    )
    if version is None:
        return False
    await record_transition(conn, held.execution_id, S.RUNNING, S.RUNNING, reason, owner)
    return True


def expired_leases(now: datetime) -> Select[uuid.UUID]:
    """The runs `fence_expired` fences: running, held, and their lease over."""
    return select(Execution.id).where(
        FENCE.guard(), Execution.lease_owner.is_not(None), Execution.lease_expires_at < now
    )


async def fence_expired(
    sessions: async_sessionmaker[AsyncSession], *, owner: str, batch: int
) -> list[tuple[uuid.UUID, int, Staged]]:
    """FENCE up to `batch` expired leases and stage a run message for each: (execution id,
    its new version, the staged message).

    Bumping `version` is the fence: the dead (or merely slow) worker's next checkpoint is
    guarded by the version it saw, so it fails and the worker stops without side effects.
    Clearing `lease_owner` is what lets an executor claim the `running` row again. The rows
    are locked with SKIP LOCKED, so a second scheduler takes other rows, and each fence is a
    compare-and-set on `version`, so a row another writer moved meanwhile (the worker's own
    checkpoint, another scheduler) is left alone.
    """
    now = utcnow()
    fenced: list[tuple[uuid.UUID, int, Staged]] = []
    async with sessions.begin() as session:
        expired = (
            await session.execute(
                expired_leases(now)
                .add_columns(Execution.version)
                .order_by(Execution.lease_expires_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        conn = await session.connection()
        for execution_id, seen in expired:
            version = await conn.scalar(
                update(Execution)
                .where(
                    Execution.id == execution_id,
                    Execution.version == seen,
                    FENCE.guard(),
                    Execution.lease_expires_at < now,
                )
                .values(lease_owner=None, version=Execution.version + 1)
                .returning(Execution.version)
            )
            if version is None:
                continue
            await record_transition(conn, execution_id, S.RUNNING, S.RUNNING, FENCED, owner)
            staged = await stage(session, RUN, RunExecution(execution_id=execution_id))
            fenced.append((execution_id, version, staged))
    return fenced

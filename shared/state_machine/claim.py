"""Claiming an execution: compare-and-set on `version` and status, one transaction each.

Moves: CLAIM (queued → running), RECLAIM (running → running, the lease expired or was handed
back) and RETRY (failed → running); RESUME is in resume.py. Every function returns None when
the claim is not ours to make — another worker won, the execution moved on, or the message is
a duplicate. The caller acknowledges the message and drops it: that is the normal outcome of
at-least-once delivery, not an error.

On PostgreSQL a queued run is claimed by claim_pg.py's one statement, shared by the claims
that arrive together; the statement-by-statement path here serves SQLite and every reclaim.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.context import restore
from shared.db.tables import Execution, ExecutionStep, Wait
from shared.db.types import utcnow
from shared.state_machine.claim_pg import QueuedClaims
from shared.state_machine.claimed import Claimed
from shared.state_machine.lease import lease_gone
from shared.state_machine.moves import CLAIM, RECLAIM, RETRY
from shared.state_machine.outputs import outputs_column
from shared.state_machine.transitions import record_transition
from shared.state_machine.waits import WaitRecord
from shared.status import ExecutionStatus as S
from shared.status import StepStatus, WaitStatus

#: The statuses of a wait a resume settled (the others: `open`, `cancelled`).
SETTLED_WAIT_STATUSES = (WaitStatus.DECIDED, WaitStatus.EXPIRED)


class Conflict(Exception):
    """Rolls back a claim transaction whose compare-and-set matched nothing."""


async def load(conn: AsyncConnection, execution_id: uuid.UUID) -> Row[Any] | None:
    """The execution's row, with its node outputs (`outputs`)."""
    return (
        await conn.execute(
            select(Execution.__table__, outputs_column(conn.dialect.name)).where(
                Execution.id == execution_id
            )
        )
    ).first()


def lease_values(owner: str, lease_seconds: float, now: datetime) -> dict[str, Any]:
    """What every claim writes: running, a new version, our lease."""
    return {
        "status": S.RUNNING.value,
        "version": Execution.version + 1,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }


def claimed_from(
    row: Row[Any] | Any, version: int, current_node_id: str | None, **more: Any
) -> Claimed:
    return Claimed(
        execution_id=row.id,
        workspace_id=row.workspace_id,
        workflow_id=row.workflow_id,
        workflow_version=row.workflow_version,
        version=version,
        current_node_id=current_node_id,
        context=restore(row.context, row.outputs),
        trigger_data=row.trigger_data or {},
        started_at=more.pop("started_at", None) or row.started_at or utcnow(),
        **more,
    )


async def next_attempt(conn: AsyncConnection, execution_id: uuid.UUID, node_id: str) -> int:
    latest = await conn.scalar(
        select(func.max(ExecutionStep.attempt)).where(
            ExecutionStep.execution_id == execution_id, ExecutionStep.node_id == node_id
        )
    )
    return int(latest or 0) + 1


async def waiting_step(
    conn: AsyncConnection, execution_id: uuid.UUID, node_id: str
) -> Row[int, int] | None:
    return (
        await conn.execute(
            select(ExecutionStep.id, ExecutionStep.attempt)
            .where(
                ExecutionStep.execution_id == execution_id,
                ExecutionStep.node_id == node_id,
                ExecutionStep.status == StepStatus.WAITING,
            )
            .order_by(ExecutionStep.attempt.desc())
            .limit(1)
        )
    ).first()


def wait_record(row: Row[Any], decision: dict[str, Any] | None) -> WaitRecord:
    return WaitRecord(
        id=row.id,
        kind=row.kind,
        rule=row.rule or {},
        facts=row.facts or {},
        decision=decision,
        expires_at=row.expires_at,
    )


async def _mark_interrupted(conn: AsyncConnection, execution_id: uuid.UUID, now: datetime) -> None:
    """A step left `running` belongs to a worker that died; say so in the log."""
    await conn.execute(
        update(ExecutionStep)
        .where(
            ExecutionStep.execution_id == execution_id, ExecutionStep.status == StepStatus.RUNNING
        )
        .values(
            status=StepStatus.INTERRUPTED,
            completed_at=now,
            error="worker lost its lease mid-node",
        )
    )


async def _where_to_go_on(
    conn: AsyncConnection, execution_id: uuid.UUID, node_id: str
) -> dict[str, Any]:
    """How a reclaimed run goes on at `node_id`. A worker that died after deciding a wait but
    before the node's checkpoint leaves the node's step `waiting` and its wait `decided`: the
    new owner resumes the node with that decision — it does not run the node again (which
    would, say, ask every approver anew). Otherwise the node runs as its next attempt."""
    step = await waiting_step(conn, execution_id, node_id)
    wait_row = None
    if step is not None:
        wait_row = (
            await conn.execute(
                select(Wait.__table__)
                .where(
                    Wait.execution_id == execution_id,
                    Wait.node_id == node_id,
                    Wait.status.in_(SETTLED_WAIT_STATUSES),
                    Wait.kind != "retry",
                )
                .order_by(Wait.decided_at.desc())
                .limit(1)
            )
        ).first()
    if step is None or wait_row is None:
        return {"attempt": await next_attempt(conn, execution_id, node_id)}
    return {
        "wait": wait_record(wait_row, wait_row.decision),
        "open_step_id": step.id,
        "attempt": step.attempt,
    }


async def claim_run(
    engine: AsyncEngine,
    execution_id: uuid.UUID,
    *,
    owner: str,
    lease_seconds: float,
    first_node_id: Callable[[uuid.UUID, int], Awaitable[str]],
    queued: QueuedClaims | None = None,
) -> Claimed | None:
    """CLAIM a queued execution, or RECLAIM a running one whose worker lost its lease. On
    PostgreSQL a queued one is claimed through `queued`, the worker's batch of claims (a
    batch of its own when none is given). `first_node_id(workflow_id, version)` names the
    node a run never claimed before starts at."""
    now = utcnow()
    if engine.dialect.name == "postgresql":
        claimed = await (queued or QueuedClaims(engine)).claim(
            execution_id, owner=owner, lease_seconds=lease_seconds, now=now
        )
        if claimed is not None:
            return claimed
    try:
        async with engine.begin() as conn:
            row = await load(conn, execution_id)
            if row is None:
                return None
            reclaim = row.status == S.RUNNING
            if not (row.status == S.QUEUED or reclaim):
                return None
            current = row.current_node_id or await first_node_id(
                row.workflow_id, row.workflow_version
            )
            version = await conn.scalar(
                update(Execution)
                .where(
                    Execution.id == execution_id,
                    Execution.version == row.version,
                    or_(CLAIM.guard(), and_(RECLAIM.guard(), lease_gone(now))),
                )
                .values(
                    **lease_values(owner, lease_seconds, now),
                    current_node_id=current,
                    started_at=row.started_at or now,
                )
                .returning(Execution.version)
            )
            if version is None:
                raise Conflict
            reason = "reclaimed after a lost lease" if reclaim else "claimed"
            await record_transition(conn, execution_id, row.status, S.RUNNING, reason, owner)
            if not reclaim:
                return claimed_from(
                    row, version, current, started_at=row.started_at or now, first_claim=True
                )
            await _mark_interrupted(conn, execution_id, now)
            going_on = await _where_to_go_on(conn, execution_id, current)
            return claimed_from(row, version, current, **going_on)
    except Conflict:
        return None


async def claim_retry(
    engine: AsyncEngine, execution_id: uuid.UUID, *, owner: str, lease_seconds: float
) -> Claimed | None:
    """RETRY: continue a failed execution from its failed node, with the context saved then
    (from the first node when it failed before any ran: no worker could run it)."""
    now = utcnow()
    try:
        async with engine.begin() as conn:
            row = await load(conn, execution_id)
            if row is None or row.status not in RETRY.sources:
                return None
            version = await conn.scalar(
                update(Execution)
                .where(
                    Execution.id == execution_id,
                    Execution.version == row.version,
                    RETRY.guard(),
                )
                .values(**lease_values(owner, lease_seconds, now), error=None, finished_at=None)
                .returning(Execution.version)
            )
            if version is None:
                raise Conflict
            await record_transition(
                conn, execution_id, S.FAILED, S.RUNNING, "retry requested", owner
            )
            if row.current_node_id is None:
                return claimed_from(row, version, None)
            attempt = await next_attempt(conn, execution_id, row.current_node_id)
            return claimed_from(row, version, row.current_node_id, attempt=attempt)
    except Conflict:
        return None


class ClaimVanished(Exception):
    """The run moved on only because its claim was lost with the database (a claim commits
    without waiting for the log's flush): raised so the message goes back to the queue and
    its next delivery claims again. Acknowledged, it would leave the run stranded."""


async def unless_claim_vanished(engine: AsyncEngine, claimed: Claimed) -> None:
    """A run found moved on is normally another worker's now, or cancelled, and its message
    is done with; not when the row went back below our claim's version: ClaimVanished."""
    if await claim_vanished(engine, claimed):
        raise ClaimVanished(f"the claim of execution {claimed.execution_id} was lost")


async def claim_vanished(engine: AsyncEngine, claimed: Claimed) -> bool:
    """True when the row's version is below the one `claimed` wrote: the claim committed
    without waiting for the log's flush (shared/db/commit_without_flush.py) and a database
    crash lost it. Versions only grow, so nothing else puts a row below a claim's version."""
    async with engine.connect() as conn:
        version = await conn.scalar(
            select(Execution.version).where(Execution.id == claimed.execution_id)
        )
    return version is not None and version < claimed.version

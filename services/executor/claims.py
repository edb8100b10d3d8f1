"""Claiming an execution: compare-and-set on `version`, one transaction each.

Every function here returns None when the claim is not ours to make — another worker won, the
execution moved on, or the message is a duplicate. The caller acknowledges the message and drops
it: that is the normal outcome of at-least-once delivery, not an error.
"""

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.executor.nodes.base import WaitRecord
from services.executor.pg_claim import QueuedClaims
from services.executor.pg_resume import Moved, decide_and_claim
from shared.context import ExecutionContext, restore
from shared.db.tables import Execution, ExecutionStep, ExecutionTransition, Wait
from shared.db.types import utcnow
from shared.status import ExecutionStatus as S


@dataclass
class Claim:
    """An execution this worker owns until its lease expires or a checkpoint loses the guard."""

    execution_id: uuid.UUID
    workspace_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    #: The row's version after our last write; every later write compares against it.
    version: int
    current_node_id: str | None
    context: ExecutionContext
    trigger_data: dict[str, Any]
    started_at: datetime
    #: Attempt number for the current node.
    attempt: int = 1
    #: Set when resuming a decided wait: the node's `resume` runs instead of `run`.
    wait: WaitRecord | None = None
    #: The step row to complete instead of inserting a new one (the waiting attempt).
    open_step_id: int | None = None
    first_claim: bool = False
    lost: bool = field(default=False)
    #: False once a checkpoint paused, finished or failed the run: nothing left to heartbeat.
    holding: bool = True
    #: Serializes the heartbeat with checkpoints, so a heartbeat never mistakes our own
    #: checkpoint (which moved `version`) for another writer.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


#: The statuses of a wait `claim_resume` settled (the others: `open`, `cancelled`).
SETTLED_WAIT_STATUSES = ("decided", "expired")


class _Conflict(Exception):
    """Rolls back a claim transaction whose compare-and-set matched nothing."""


async def _load(conn: AsyncConnection, execution_id: uuid.UUID) -> Row[Any] | None:
    return (
        await conn.execute(select(Execution.__table__).where(Execution.id == execution_id))
    ).first()


def _claim_values(owner: str, lease_seconds: float, now: datetime) -> dict[str, Any]:
    return {
        "status": S.RUNNING.value,
        "version": Execution.version + 1,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }


async def record_transition(
    conn: AsyncConnection,
    execution_id: uuid.UUID,
    src: str | None,
    dst: str,
    reason: str,
    owner: str,
) -> None:
    await conn.execute(
        insert(ExecutionTransition).values(
            execution_id=execution_id,
            from_status=src,
            to_status=dst,
            reason=reason,
            worker=owner,
            at=utcnow(),
        )
    )


def _claim_from(row: Row[Any], version: int, current_node_id: str | None) -> Claim:
    return Claim(
        execution_id=row.id,
        workspace_id=row.workspace_id,
        workflow_id=row.workflow_id,
        workflow_version=row.workflow_version,
        version=version,
        current_node_id=current_node_id,
        context=restore(row.context),
        trigger_data=row.trigger_data or {},
        started_at=row.started_at or utcnow(),
    )


async def _next_attempt(conn: AsyncConnection, execution_id: uuid.UUID, node_id: str) -> int:
    latest = await conn.scalar(
        select(func.max(ExecutionStep.attempt)).where(
            ExecutionStep.execution_id == execution_id, ExecutionStep.node_id == node_id
        )
    )
    return int(latest or 0) + 1


async def _mark_interrupted(conn: AsyncConnection, execution_id: uuid.UUID, now: datetime) -> None:
    """A step left `running` belongs to a worker that died; say so in the log."""
    await conn.execute(
        update(ExecutionStep)
        .where(ExecutionStep.execution_id == execution_id, ExecutionStep.status == "running")
        .values(status="interrupted", completed_at=now, error="worker lost its lease mid-node")
    )


async def _waiting_step(
    conn: AsyncConnection, execution_id: uuid.UUID, node_id: str
) -> Row[int, int] | None:
    return (
        await conn.execute(
            select(ExecutionStep.id, ExecutionStep.attempt)
            .where(
                ExecutionStep.execution_id == execution_id,
                ExecutionStep.node_id == node_id,
                ExecutionStep.status == "waiting",
            )
            .order_by(ExecutionStep.attempt.desc())
            .limit(1)
        )
    ).first()


async def _continue_interrupted_resume(conn: AsyncConnection, claim: Claim, node_id: str) -> None:
    """A worker that died after deciding a wait but before the node's checkpoint leaves the
    node's step `waiting` and its wait `decided`: the new owner resumes the node with that
    decision — it does not run the node again (which would, say, ask every approver anew)."""
    step = await _waiting_step(conn, claim.execution_id, node_id)
    wait_row = None
    if step is not None:
        wait_row = (
            await conn.execute(
                select(Wait.__table__)
                .where(
                    Wait.execution_id == claim.execution_id,
                    Wait.node_id == node_id,
                    Wait.status.in_(SETTLED_WAIT_STATUSES),
                    Wait.kind != "retry",
                )
                .order_by(Wait.decided_at.desc())
                .limit(1)
            )
        ).first()
    if step is None or wait_row is None:
        claim.attempt = await _next_attempt(conn, claim.execution_id, node_id)
        return
    claim.wait = _wait_record(wait_row, wait_row.decision)
    claim.open_step_id, claim.attempt = step.id, step.attempt


async def claim_run(
    engine: AsyncEngine,
    execution_id: uuid.UUID,
    *,
    owner: str,
    lease_seconds: float,
    first_node_id: Callable[[uuid.UUID, int], Any],
    queued: QueuedClaims | None = None,
) -> Claim | None:
    """Claim a queued execution, or a running one whose worker lost its lease. On PostgreSQL a
    queued one is claimed through `queued`, the worker's batch of claims (a batch of its own
    when none is given)."""
    now = utcnow()
    if engine.dialect.name == "postgresql":
        claimed = await (queued or QueuedClaims(engine)).claim(
            execution_id, owner=owner, lease_seconds=lease_seconds, now=now
        )
        if claimed is not None:
            claim = Claim(
                execution_id=claimed["id"],
                workspace_id=claimed["workspace_id"],
                workflow_id=claimed["workflow_id"],
                workflow_version=claimed["workflow_version"],
                version=claimed["version"],
                current_node_id=claimed["current_node_id"],
                context=restore(claimed["context"]),
                trigger_data=claimed["trigger_data"] or {},
                started_at=claimed["started_at"],
            )
            claim.first_claim = True
            return claim
    try:
        async with engine.begin() as conn:
            row = await _load(conn, execution_id)
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
                    or_(
                        Execution.status == S.QUEUED,
                        and_(
                            Execution.status == S.RUNNING,
                            or_(Execution.lease_owner.is_(None), Execution.lease_expires_at < now),
                        ),
                    ),
                )
                .values(
                    **_claim_values(owner, lease_seconds, now),
                    current_node_id=current,
                    started_at=row.started_at or now,
                )
                .returning(Execution.version)
            )
            if version is None:
                raise _Conflict
            reason = "reclaimed after a lost lease" if reclaim else "claimed"
            await record_transition(conn, execution_id, row.status, S.RUNNING, reason, owner)
            claim = _claim_from(row, version, current)
            claim.started_at = row.started_at or now
            claim.first_claim = not reclaim
            if reclaim:
                await _mark_interrupted(conn, execution_id, now)
                await _continue_interrupted_resume(conn, claim, current)
            return claim
    except _Conflict:
        return None


async def claim_retry(
    engine: AsyncEngine, execution_id: uuid.UUID, *, owner: str, lease_seconds: float
) -> Claim | None:
    """Continue a failed execution from its failed node, with the context saved then (from the
    first node when it failed before any ran: no worker could run it)."""
    now = utcnow()
    try:
        async with engine.begin() as conn:
            row = await _load(conn, execution_id)
            if row is None or row.status != S.FAILED:
                return None
            version = await conn.scalar(
                update(Execution)
                .where(
                    Execution.id == execution_id,
                    Execution.version == row.version,
                    Execution.status == S.FAILED,
                )
                .values(**_claim_values(owner, lease_seconds, now), error=None, finished_at=None)
                .returning(Execution.version)
            )
            if version is None:
                raise _Conflict
            await record_transition(
                conn, execution_id, S.FAILED, S.RUNNING, "retry requested", owner
            )
            claim = _claim_from(row, version, row.current_node_id)
            if row.current_node_id is not None:
                claim.attempt = await _next_attempt(conn, execution_id, row.current_node_id)
            return claim
    except _Conflict:
        return None


def _wait_record(row: Row[Any], decision: dict[str, Any] | None) -> WaitRecord:
    return WaitRecord(
        id=row.id,
        kind=row.kind,
        rule=row.rule or {},
        facts=row.facts or {},
        decision=decision,
        expires_at=row.expires_at,
    )


async def claim_resume(
    engine: AsyncEngine,
    execution_id: uuid.UUID,
    wait_id: uuid.UUID,
    *,
    owner: str,
    lease_seconds: float,
    settle: Callable[[AsyncConnection, str, WaitRecord], Awaitable[dict[str, Any] | None]],
    wait_status: Callable[[str, dict[str, Any]], str] = lambda _node_id, _decision: "decided",
    pinned: Callable[[uuid.UUID, int], Awaitable[None]] | None = None,
) -> Claim | None:
    """Decide a wait and move its execution paused → running, both or neither.

    `pinned(workflow_id, version)` is called with the execution's pinned workflow version as
    soon as it is read (the caller loads the definition `settle` needs). `settle(conn,
    node_id, wait)` applies the node type's rule to the wait's facts, inside this transaction
    and with the wait's row locked; None keeps the wait open. `wait_status(node_id, decision)`
    is the status the decided wait is stored with (`decided`, or `expired` for a deadline the
    run fails on).
    A second resume of the same wait finds it decided and does nothing: exactly once.

    Round trips on PostgreSQL: BEGIN, one read, what `settle` reads, one write, COMMIT.
    """
    now = utcnow()
    try:
        async with engine.begin() as conn:
            row = await _load_for_resume(conn, execution_id, wait_id)
            if row is None or row.wait_status != "open":
                return None
            if row.status != S.PAUSED or row.current_node_id != row.wait_node_id:
                return None
            if pinned is not None:
                await pinned(row.workflow_id, row.workflow_version)
            node_id = row.wait_node_id
            wait = WaitRecord(
                id=wait_id,
                kind=row.kind,
                rule=row.rule or {},
                facts=row.facts or {},
                decision=None,
                expires_at=row.expires_at,
            )
            decision = await settle(conn, node_id, wait)
            if decision is None:
                return None
            moved = await _decide_and_claim(
                conn,
                row,
                wait_id,
                decision,
                wait_status=wait_status(node_id, decision),
                owner=owner,
                lease_seconds=lease_seconds,
                now=now,
            )
            if moved is None:
                raise _Conflict
            claim = _claim_from(row, moved.version, node_id)
            if row.kind == "retry":
                claim.attempt = (moved.last_attempt or 0) + 1
            else:
                claim.wait = dataclasses.replace(wait, decision=decision)
                if moved.step_id is not None and moved.step_attempt is not None:
                    claim.open_step_id, claim.attempt = moved.step_id, moved.step_attempt
            return claim
    except _Conflict:
        return None


async def _load_for_resume(
    conn: AsyncConnection, execution_id: uuid.UUID, wait_id: uuid.UUID
) -> Row[Any] | None:
    """The execution with the wait, in one read; the wait's row locked until the transaction
    ends. The gateway takes a share lock on it while recording a decision
    (approval_decisions.record), so a decision is committed before `settle` reads the facts
    (and counted) or sees the wait decided (and is recorded as late): never lost."""
    return (
        await conn.execute(
            select(
                Execution.__table__,
                Wait.node_id.label("wait_node_id"),
                Wait.kind,
                Wait.rule,
                Wait.facts,
                Wait.status.label("wait_status"),
                Wait.expires_at,
            )
            .join(Wait, Wait.execution_id == Execution.id)
            .where(Execution.id == execution_id, Wait.id == wait_id)
            .with_for_update(of=Wait.__table__)
        )
    ).first()


async def _decide_and_claim(
    conn: AsyncConnection,
    row: Row[Any],
    wait_id: uuid.UUID,
    decision: dict[str, Any],
    *,
    wait_status: str,
    owner: str,
    lease_seconds: float,
    now: datetime,
) -> Moved | None:
    reason = f"{row.kind} wait decided"
    if conn.dialect.name == "postgresql":
        return await decide_and_claim(
            conn,
            execution_id=row.id,
            wait_id=wait_id,
            node_id=row.wait_node_id,
            version=row.version,
            wait_status=wait_status,
            decision=decision,
            owner=owner,
            lease_seconds=lease_seconds,
            reason=reason,
            now=now,
            at=utcnow(),
        )
    decided = await conn.execute(
        update(Wait)
        .where(Wait.id == wait_id, Wait.status == "open")
        .values(status=wait_status, decision=decision, decided_at=now)
    )
    if decided.rowcount != 1:
        return None
    version = await conn.scalar(
        update(Execution)
        .where(
            Execution.id == row.id,
            Execution.version == row.version,
            Execution.status == S.PAUSED,
        )
        .values(**_claim_values(owner, lease_seconds, now))
        .returning(Execution.version)
    )
    if version is None:
        return None
    await record_transition(conn, row.id, S.PAUSED, S.RUNNING, reason, owner)
    step = await _waiting_step(conn, row.id, row.wait_node_id)
    last = await _next_attempt(conn, row.id, row.wait_node_id) - 1
    return Moved(
        version=version,
        step_id=step.id if step is not None else None,
        step_attempt=step.attempt if step is not None else None,
        last_attempt=last,
    )

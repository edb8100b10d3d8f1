"""The checkpoint after every node: one transaction, guarded by `version`."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.claims import Claim, record_transition
from services.executor.nodes.base import CheckpointWrites, WaitSpec
from services.executor.pg_checkpoint import CheckpointRow, CheckpointWriter, write_checkpoints
from shared.context import ExecutionContext, snapshot
from shared.db.tables import Execution, ExecutionStep, Wait
from shared.db.types import utcnow
from shared.errors import StaleVersion
from shared.messages import Message
from shared.outbox import Staged, stage
from shared.status import FINAL_STATUSES
from shared.status import ExecutionStatus as S


@dataclass(frozen=True)
class StepRecord:
    node_id: str
    node_type: str
    attempt: int
    status: str
    started_at: datetime
    completed_at: datetime | None
    duration_ms: int | None
    error: str | None = None
    output_summary: dict[str, Any] | None = None
    #: The node's `when` and its value; None keeps what the step row has.
    condition: dict[str, Any] | None = None


@dataclass
class Checkpoint:
    context: ExecutionContext
    current_node_id: str | None
    status: S
    step: StepRecord
    #: Complete this existing step row rather than inserting one.
    step_id: int | None = None
    wait: WaitSpec | None = None
    outbox: list[tuple[str, Message]] = field(default_factory=list)
    writes: CheckpointWrites | None = None
    error: str | None = None
    reason: str | None = None


async def commit(
    engine: AsyncEngine,
    claim: Claim,
    checkpoint: Checkpoint,
    *,
    owner: str,
    writer: CheckpointWriter | None = None,
) -> list[Staged]:
    """Write the checkpoint; raise StaleVersion when another writer moved the execution first.

    On StaleVersion nothing was written: the caller must stop without further effects. With a
    `writer`, a checkpoint that fits one statement is group-committed with other runs' ones.
    """
    now = utcnow()
    values: dict[str, Any] = {"current_node_id": checkpoint.current_node_id}
    # A run that goes on keeps its lease as it is: the heartbeat extends it. Leaving the lease
    # column alone lets PostgreSQL update the row in place (HOT), with no index entries.
    if checkpoint.status != S.RUNNING:
        values.update(status=checkpoint.status.value, lease_owner=None, lease_expires_at=None)
    if checkpoint.status in FINAL_STATUSES:
        values["finished_at"] = now
        values["execution_time_ms"] = int((now - claim.started_at).total_seconds() * 1000)
    if checkpoint.error is not None:
        values["error"] = checkpoint.error
    if _fits_one_statement(engine, checkpoint):
        step = checkpoint.step
        row = CheckpointRow(
            execution_id=claim.execution_id,
            expected_version=claim.version,
            context=checkpoint.context,
            current_node_id=checkpoint.current_node_id,
            status=checkpoint.status.value,
            finished_at=values.get("finished_at"),
            execution_time_ms=values.get("execution_time_ms"),
            error=checkpoint.error,
            node_id=step.node_id,
            node_type=step.node_type,
            attempt=step.attempt,
            step_status=step.status,
            started_at=step.started_at,
            completed_at=step.completed_at,
            duration_ms=step.duration_ms,
            step_error=step.error,
            output_summary=step.output_summary,
            condition=step.condition,
            step_id=checkpoint.step_id,
            reason=checkpoint.reason or checkpoint.error or checkpoint.status.value,
            at=now,
        )
        if writer is not None:
            version = await writer.commit(row)
        else:
            version = (await write_checkpoints(engine, [row], owner=owner)).get(row.execution_id)
        if version is None:
            raise StaleVersion(f"execution {claim.execution_id} moved past version {claim.version}")
        _advance(claim, checkpoint, version)
        return []
    values["context"] = snapshot(checkpoint.context)
    values["version"] = Execution.version + 1
    async with engine.begin() as conn:
        version = await conn.scalar(
            update(Execution)
            .where(
                Execution.id == claim.execution_id,
                Execution.version == claim.version,
                Execution.status == S.RUNNING,
            )
            .values(**values)
            .returning(Execution.version)
        )
        if version is None:
            raise StaleVersion(f"execution {claim.execution_id} moved past version {claim.version}")
        step = checkpoint.step
        step_values = {
            "status": step.status,
            "completed_at": step.completed_at,
            "duration_ms": step.duration_ms,
            "error": step.error,
            "output_summary": step.output_summary,
        }
        if step.condition is not None:
            step_values["condition"] = step.condition
        if checkpoint.step_id is not None:
            await conn.execute(
                update(ExecutionStep)
                .where(ExecutionStep.id == checkpoint.step_id)
                .values(**step_values)
            )
        else:
            await conn.execute(
                insert(ExecutionStep).values(
                    execution_id=claim.execution_id,
                    node_id=step.node_id,
                    node_type=step.node_type,
                    attempt=step.attempt,
                    started_at=step.started_at,
                    **step_values,
                )
            )
        if checkpoint.wait is not None:
            await conn.execute(
                insert(Wait).values(
                    id=checkpoint.wait.id,
                    execution_id=claim.execution_id,
                    node_id=step.node_id,
                    kind=checkpoint.wait.kind,
                    rule=checkpoint.wait.rule,
                    facts=checkpoint.wait.facts,
                    status="open",
                    expires_at=checkpoint.wait.expires_at,
                    created_at=now,
                )
            )
        if checkpoint.writes is not None:
            await checkpoint.writes(conn)
        if checkpoint.status != S.RUNNING:
            reason = checkpoint.reason or checkpoint.error or checkpoint.status.value
            await record_transition(
                conn, claim.execution_id, S.RUNNING, checkpoint.status, reason, owner
            )
        staged = [await stage(conn, queue, message) for queue, message in checkpoint.outbox]
    _advance(claim, checkpoint, version)
    return staged


def _fits_one_statement(engine: AsyncEngine, checkpoint: Checkpoint) -> bool:
    return (
        engine.dialect.name == "postgresql"
        and checkpoint.wait is None
        and not checkpoint.outbox
        and checkpoint.writes is None
    )


def _advance(claim: Claim, checkpoint: Checkpoint, version: int) -> None:
    claim.version = version
    claim.holding = checkpoint.status == S.RUNNING
    claim.context = checkpoint.context
    claim.current_node_id = checkpoint.current_node_id


class InterruptedTooOften(Exception):
    """A side-effecting node was interrupted as often as a message may be delivered: its
    worker died, lost its lease or could not store what it did, each time. Starting it again
    would repeat its side effect past any budget, so the node fails instead."""

    def __init__(self, node_id: str, times: int) -> None:
        super().__init__(
            f"node `{node_id}` was interrupted {times} times (its worker stopped or could not "
            "checkpoint it each time); it is not started again"
        )


async def start_step(
    engine: AsyncEngine, claim: Claim, node_id: str, node_type: str, *, budget: int
) -> int:
    """Record a side-effecting attempt before it starts, so a crash mid-node stays visible;
    `InterruptedTooOften` when `budget` earlier attempts of the node were interrupted."""
    async with engine.begin() as conn:
        # The latest attempts, newest first: those interrupted since the last that ended
        # otherwise (failed, completed, waiting) count. A retry, of the node or of the failed
        # run, follows a failed attempt and so starts a budget of its own.
        latest = await conn.scalars(
            select(ExecutionStep.status)
            .where(
                ExecutionStep.execution_id == claim.execution_id,
                ExecutionStep.node_id == node_id,
            )
            .order_by(ExecutionStep.attempt.desc())
            .limit(budget)
        )
        interrupted = len(list(takewhile(lambda status: status == "interrupted", latest)))
        if interrupted >= budget:
            raise InterruptedTooOften(node_id, interrupted)
        step_id = await conn.scalar(
            insert(ExecutionStep)
            .values(
                execution_id=claim.execution_id,
                node_id=node_id,
                node_type=node_type,
                attempt=claim.attempt,
                status="running",
                started_at=utcnow(),
            )
            .returning(ExecutionStep.id)
        )
    assert step_id is not None
    return int(step_id)


async def extend_lease(
    engine: AsyncEngine, claim: Claim, *, owner: str, lease_seconds: float
) -> bool:
    """Heartbeat. False when the row moved on — unless our own checkpoint moved it meanwhile."""
    seen = claim.version
    async with engine.begin() as conn:
        result = await conn.execute(
            update(Execution)
            .where(
                Execution.id == claim.execution_id,
                Execution.version == seen,
                Execution.lease_owner == owner,
                Execution.status == S.RUNNING,
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
        )
    return result.rowcount == 1 or claim.version != seen

"""CHECKPOINT after every node: the run goes on, pauses, completes or fails — one
transaction, guarded by status and `version`.

A checkpoint that fits one statement (no wait to open, no outbox, no rows of the node's own)
goes to PostgreSQL through checkpoint_pg.py, group-committed with other runs' ones; the rest,
and every checkpoint on SQLite, take the transaction here.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.context import ExecutionContext, added
from shared.db.tables import Execution, ExecutionStep, Wait
from shared.db.types import utcnow
from shared.errors import StaleVersion
from shared.messages import Message
from shared.outbox import Staged, stage
from shared.state_machine.checkpoint_pg import CheckpointRow, CheckpointWriter, write_checkpoints
from shared.state_machine.claimed import HeldRun
from shared.state_machine.moves import CHECKPOINT
from shared.state_machine.outputs import write_outputs
from shared.state_machine.transitions import record_transition
from shared.state_machine.waits import CheckpointWrites, WaitSpec
from shared.status import FINAL_STATUSES, StepStatus, WaitStatus
from shared.status import ExecutionStatus as S


@dataclass(frozen=True)
class StepRecord:
    node_id: str
    node_type: str
    attempt: int
    status: StepStatus
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


@dataclass(frozen=True)
class Committed:
    #: The execution's version now: the holder's next write compares against it.
    version: int
    #: Outbox messages to publish now that they are committed.
    staged: list[Staged]


async def commit(
    engine: AsyncEngine,
    held: HeldRun,
    checkpoint: Checkpoint,
    *,
    owner: str,
    writer: CheckpointWriter | None = None,
) -> Committed:
    """Write the checkpoint; raise StaleVersion when another writer moved the execution first.

    On StaleVersion nothing was written: the caller must stop without further effects. With a
    `writer`, a checkpoint that fits one statement is group-committed with other runs' ones.
    """
    now = utcnow()
    change = added(held.context, checkpoint.context)
    values: dict[str, Any] = {"current_node_id": checkpoint.current_node_id}
    # A run that goes on keeps its lease as it is: the heartbeat extends it. Leaving the lease
    # column alone lets PostgreSQL update the row in place (HOT), with no index entries.
    if checkpoint.status != S.RUNNING:
        values.update(status=checkpoint.status.value, lease_owner=None, lease_expires_at=None)
    if checkpoint.status in FINAL_STATUSES:
        values["finished_at"] = now
        values["execution_time_ms"] = int((now - held.started_at).total_seconds() * 1000)
    if checkpoint.error is not None:
        values["error"] = checkpoint.error
    if _fits_one_statement(engine, checkpoint):
        step = checkpoint.step
        row = CheckpointRow(
            execution_id=held.execution_id,
            expected_version=held.version,
            rest=change.rest,
            outputs=change.outputs or None,
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
            raise StaleVersion(f"execution {held.execution_id} moved past version {held.version}")
        return Committed(version, [])
    if change.rest is not None:
        values["context"] = change.rest
    values["version"] = Execution.version + 1
    async with engine.begin() as conn:
        version = await conn.scalar(
            update(Execution)
            .where(
                Execution.id == held.execution_id,
                Execution.version == held.version,
                CHECKPOINT.guard(),
            )
            .values(**values)
            .returning(Execution.version)
        )
        if version is None:
            raise StaleVersion(f"execution {held.execution_id} moved past version {held.version}")
        await write_outputs(conn, held.execution_id, change.outputs, now)
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
                    execution_id=held.execution_id,
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
                    execution_id=held.execution_id,
                    node_id=step.node_id,
                    kind=checkpoint.wait.kind,
                    rule=checkpoint.wait.rule,
                    facts=checkpoint.wait.facts,
                    status=WaitStatus.OPEN,
                    expires_at=checkpoint.wait.expires_at,
                    created_at=now,
                )
            )
        if checkpoint.writes is not None:
            await checkpoint.writes(conn)
        if checkpoint.status != S.RUNNING:
            reason = checkpoint.reason or checkpoint.error or checkpoint.status.value
            await record_transition(
                conn, held.execution_id, S.RUNNING, checkpoint.status, reason, owner
            )
        staged = [await stage(conn, queue, message) for queue, message in checkpoint.outbox]
    return Committed(version, staged)


def _fits_one_statement(engine: AsyncEngine, checkpoint: Checkpoint) -> bool:
    return (
        engine.dialect.name == "postgresql"
        and checkpoint.wait is None
        and not checkpoint.outbox
        and checkpoint.writes is None
    )

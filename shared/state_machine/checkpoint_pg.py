"""CHECKPOINT on PostgreSQL: the common checkpoint as ONE statement, and many of them in one commit.

Most checkpoints only move the execution on (or finish or fail it) and log the step: no wait to
open, no outbox, no rows of the node's own. On PostgreSQL those are written by one statement
whose data-modifying CTEs all hang off the version-guarded UPDATE: a row whose guard matches
nothing gets no step and no transition either, exactly as in the general transaction in
checkpoint.py (which SQLite and every other checkpoint use). A run that goes on keeps its
lease as it is (the heartbeat extends it), so no indexed column changes and PostgreSQL can
update the row in place (a HOT update, no index entries).

The statement takes its rows as one JSON array, so the checkpoints that the runs of one worker reach
during the same few milliseconds are written together (shared/group_commit.py): one round trip
and one commit (one WAL flush) for all of them. Each run still waits for its own checkpoint to
be durable before its next node starts, and a lone checkpoint goes out at once.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import driver
from shared.group_commit import GroupCommit
from shared.state_machine.moves import CHECKPOINT
from shared.state_machine.transitions import transition_sql

_LOG_MOVES_OFF_RUNNING = transition_sql(
    """SELECT i.execution_id, 'running', i.status, i.reason, $2, i.at
    FROM input AS i JOIN moved AS m ON m.id = i.execution_id
    WHERE i.status <> 'running'"""
)

CHECKPOINTS_SQL = f"""
WITH input AS (
    SELECT * FROM json_to_recordset($1::json) AS i(
        execution_id uuid, expected_version int, rest json, outputs json, current_node_id text,
        status text,
        finished_at timestamptz, execution_time_ms int, error text, node_id text,
        node_type text, attempt int, step_status text, started_at timestamptz,
        completed_at timestamptz, duration_ms int, step_error text, output_summary json,
        condition json, step_id bigint, reason text, at timestamptz
    )
), moved AS (
    UPDATE executions AS e
    SET context = coalesce(i.rest, e.context),
        current_node_id = i.current_node_id,
        version = e.version + 1,
        status = i.status,
        lease_owner = CASE WHEN i.status = 'running' THEN e.lease_owner END,
        lease_expires_at = CASE WHEN i.status = 'running' THEN e.lease_expires_at END,
        finished_at = i.finished_at,
        execution_time_ms = i.execution_time_ms,
        error = coalesce(i.error, e.error)
    FROM input AS i
    -- The ids again as constants: joined with the JSON rows alone, the plan followed the
    -- statistics, and on those of small tables it read every running execution.
    WHERE e.id = i.execution_id AND e.id = ANY($3::uuid[])
      AND e.version = i.expected_version AND {CHECKPOINT.sql_guard()}
    RETURNING e.id, e.version
), outputs AS (
    INSERT INTO execution_outputs (execution_id, node_id, output, at)
    SELECT i.execution_id, o.key, o.value, i.at
    FROM input AS i JOIN moved AS m ON m.id = i.execution_id, json_each(i.outputs) AS o
    ON CONFLICT (execution_id, node_id) DO UPDATE SET output = excluded.output, at = excluded.at
), new_step AS (
    INSERT INTO execution_steps (execution_id, node_id, node_type, attempt, status,
                                 started_at, completed_at, duration_ms, error, output_summary,
                                 condition)
    SELECT i.execution_id, i.node_id, i.node_type, i.attempt, i.step_status, i.started_at,
           i.completed_at, i.duration_ms, i.step_error, i.output_summary, i.condition
    FROM input AS i JOIN moved AS m ON m.id = i.execution_id
    WHERE i.step_id IS NULL
), old_step AS (
    UPDATE execution_steps AS s
    SET status = i.step_status, completed_at = i.completed_at, duration_ms = i.duration_ms,
        error = i.step_error, output_summary = i.output_summary,
        condition = coalesce(i.condition, s.condition)
    FROM input AS i JOIN moved AS m ON m.id = i.execution_id
    WHERE s.id = i.step_id
), transition AS (
    {_LOG_MOVES_OFF_RUNNING}
)
SELECT id, version FROM moved
"""


@dataclass(frozen=True)
class CheckpointRow:
    """One execution's checkpoint: the execution's new state and its step."""

    execution_id: uuid.UUID
    expected_version: int
    #: The context but its node outputs, when it changed (None keeps what is stored).
    #: Encoded to JSON with the rest of the batch, in one pass (driver.as_json).
    rest: dict[str, Any] | None
    #: The node outputs the checkpoint adds, by node id (`execution_outputs` rows).
    outputs: dict[str, Any] | None
    current_node_id: str | None
    status: str
    finished_at: datetime | None
    execution_time_ms: int | None
    error: str | None
    node_id: str
    node_type: str
    attempt: int
    step_status: str
    started_at: datetime
    completed_at: datetime | None
    duration_ms: int | None
    step_error: str | None
    output_summary: dict[str, Any] | None
    #: The node's `when` and its value; None keeps what the step row has.
    condition: dict[str, Any] | None
    #: Complete this step row instead of inserting one.
    step_id: int | None
    #: Why the status changed (a transition row is written when it leaves `running`).
    reason: str
    at: datetime


async def write_checkpoints(
    engine: AsyncEngine, rows: Sequence[CheckpointRow], *, owner: str
) -> dict[uuid.UUID, int]:
    """Write the rows in one statement; the new version of each execution whose guard matched.
    An execution missing from the result was moved on by someone else: nothing of it was
    written."""
    ids = [row.execution_id for row in rows]
    found = await driver.fetch(engine, CHECKPOINTS_SQL, _as_json(rows), owner, ids)
    return {record["id"]: record["version"] for record in found}


def _as_json(rows: Sequence[CheckpointRow]) -> str:
    """The rows as one JSON array, which the statement reads with json_to_recordset: one
    encoding pass (in Rust) where per-column arrays cost asyncpg a type check per element."""
    return driver.as_json([_object(row) for row in rows])


def _object(row: CheckpointRow) -> dict[str, Any]:
    # Spelled out rather than looped over the fields: this runs once per node.
    return {
        "execution_id": row.execution_id,
        "expected_version": row.expected_version,
        "rest": row.rest,
        "outputs": row.outputs,
        "current_node_id": row.current_node_id,
        "status": row.status,
        "finished_at": row.finished_at,
        "execution_time_ms": row.execution_time_ms,
        "error": row.error,
        "node_id": row.node_id,
        "node_type": row.node_type,
        "attempt": row.attempt,
        "step_status": row.step_status,
        "started_at": row.started_at,
        "completed_at": row.completed_at,
        "duration_ms": row.duration_ms,
        "step_error": row.step_error,
        "output_summary": row.output_summary,
        "condition": row.condition,
        "step_id": row.step_id,
        "reason": row.reason,
        "at": row.at,
    }


class CheckpointWriter:
    """Group commit for one worker's runs: `commit` returns once its row is durable, written
    with the rows other runs reached meanwhile."""

    def __init__(self, engine: AsyncEngine, *, owner: str) -> None:
        self._engine = engine
        self._owner = owner
        # One statement in flight at a time: the rows that arrive meanwhile make the next,
        # larger, batch (PostgreSQL's cost per statement is what batching saves; two in flight
        # measured about 10 % more CPU per transition in bench/executor_cpu.py). A lone row
        # still goes out at once.
        self._group: GroupCommit[CheckpointRow, int | None] = GroupCommit(
            self._write, name="checkpoints", flushers=1
        )

    @property
    def statements(self) -> int:
        return self._group.statements

    async def commit(self, row: CheckpointRow) -> int | None:
        """The execution's new version, or None when its guard matched nothing."""
        return await self._group.submit(row)

    async def _write(self, rows: Sequence[CheckpointRow]) -> list[int | None]:
        versions = await write_checkpoints(self._engine, rows, owner=self._owner)
        return [versions.get(row.execution_id) for row in rows]

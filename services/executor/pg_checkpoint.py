"""The common checkpoint as ONE PostgreSQL statement: the per-node hot path.

Most checkpoints only move the execution on (or finish or fail it) and log the step: no wait to
open, no outbox, no rows of the node's own. On PostgreSQL those are written by one statement
whose data-modifying CTEs all hang off the version-guarded UPDATE: when the guard matches
nothing, no step and no transition is written either, exactly as in the general transaction in
checkpoints.py (which SQLite and every other checkpoint use). One statement is one implicit
transaction and one round trip, and skipping SQLAlchemy's statement building here cuts the
executor's CPU per node several-fold (see bench/).
"""

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

CHECKPOINT_SQL = """
WITH moved AS (
    UPDATE executions
    SET context = $3::json,
        current_node_id = $4,
        version = version + 1,
        status = $5::varchar,
        lease_owner = CASE WHEN $5::varchar = 'running' THEN lease_owner END,
        lease_expires_at = $6,
        finished_at = $7,
        execution_time_ms = $8,
        error = coalesce($9, error)
    WHERE id = $1 AND version = $2 AND status = 'running'
    RETURNING version
), new_step AS (
    INSERT INTO execution_steps (execution_id, node_id, node_type, attempt, status,
                                 started_at, completed_at, duration_ms, error, output_summary)
    SELECT $1, $10, $11, $12, $13, $14, $15, $16, $17, $18::json
    FROM moved WHERE $19::bigint IS NULL
), old_step AS (
    UPDATE execution_steps
    SET status = $13, completed_at = $15, duration_ms = $16, error = $17, output_summary = $18::json
    WHERE id = $19 AND EXISTS (SELECT 1 FROM moved)
), transition AS (
    INSERT INTO execution_transitions (execution_id, from_status, to_status, reason, worker, at)
    SELECT $1, 'running', $5::varchar, $20, $21, $22
    FROM moved WHERE $5::varchar <> 'running'
)
SELECT version FROM moved
"""


async def commit_in_one_statement(
    engine: AsyncEngine,
    *,
    execution_id: uuid.UUID,
    expected_version: int,
    context: dict[str, Any],
    current_node_id: str | None,
    status: str,
    lease_expires_at: datetime | None,
    finished_at: datetime | None,
    execution_time_ms: int | None,
    error: str | None,
    step: Any,
    step_id: int | None,
    reason: str,
    owner: str,
    now: datetime,
) -> int | None:
    """The new version, or None when the guard matched nothing (nothing was written)."""
    summary = None if step.output_summary is None else json.dumps(step.output_summary)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        # The driver connection directly: asyncpg prepares the statement once per connection.
        version: int | None = await raw.driver_connection.fetchval(  # type: ignore[union-attr]  # asyncpg's connection is untyped here
            CHECKPOINT_SQL,
            execution_id,
            expected_version,
            json.dumps(context),
            current_node_id,
            status,
            lease_expires_at,
            finished_at,
            execution_time_ms,
            error,
            step.node_id,
            step.node_type,
            step.attempt,
            step.status,
            step.started_at,
            step.completed_at,
            step.duration_ms,
            step.error,
            summary,
            step_id,
            reason,
            owner,
            now,
        )
    return version

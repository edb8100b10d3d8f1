"""Claiming a queued execution as ONE PostgreSQL statement: the start of every run.

`status = 'queued'` is the compare-and-set here: a queued row leaves that status only through
a claim or a cancel, both of which bump `version`, and PostgreSQL re-checks the WHERE clause
on the newest row version after waiting for a concurrent writer's lock, so of two concurrent
claims exactly one matches. The first node's id is read from the pinned workflow version in
the same statement. Anything else (a reclaim after a lost lease, SQLite) takes the general
path in claims.py.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

CLAIM_QUEUED_SQL = """
WITH claimed AS (
    UPDATE executions AS e
    SET status = 'running',
        version = e.version + 1,
        lease_owner = $2,
        lease_expires_at = $3,
        started_at = coalesce(e.started_at, $4),
        current_node_id = coalesce(e.current_node_id, (
            SELECT node ->> 'id'
            FROM workflow_versions AS v, jsonb_array_elements(v.definition -> 'nodes') AS node
            WHERE v.workflow_id = e.workflow_id AND v.version = e.workflow_version
            ORDER BY (node ->> 'position')::int
            LIMIT 1
        ))
    WHERE e.id = $1 AND e.status = 'queued'
    RETURNING e.id, e.workspace_id, e.workflow_id, e.workflow_version, e.version,
              e.current_node_id, e.context, e.trigger_data, e.started_at
), moved AS (
    INSERT INTO execution_transitions (execution_id, from_status, to_status, reason, worker, at)
    SELECT id, 'queued', 'running', 'claimed', $2, $4 FROM claimed
)
SELECT * FROM claimed
"""


async def claim_queued_in_one_statement(
    engine: AsyncEngine, execution_id: uuid.UUID, *, owner: str, lease_seconds: float,
    now: datetime,
) -> dict[str, Any] | None:  # fmt: skip
    """The claimed row, or None when it was not queued. JSON columns arrive decoded: the
    connection comes from SQLAlchemy's pool, which installs asyncpg codecs for json."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        row = await raw.driver_connection.fetchrow(  # type: ignore[union-attr]  # asyncpg's connection is untyped here
            CLAIM_QUEUED_SQL,
            execution_id,
            owner,
            now + timedelta(seconds=lease_seconds),
            now,
        )
    if row is None:
        return None
    return dict(row)

"""CLAIM on PostgreSQL: one statement for every claim of a queued run asked for together.

`status = 'queued'` is the compare-and-set here: a queued row leaves that status only through
a claim or a cancel, both of which bump `version`, and PostgreSQL re-checks the WHERE clause
on the newest row version after waiting for a concurrent writer's lock, so of two concurrent
claims exactly one matches. The first node's id is read from the pinned workflow version in
the same statement. Anything else (a reclaim after a lost lease, SQLite) takes the general
path in claim.py.

A burst of run messages reaches a worker as many claims at once; they go to PostgreSQL
together (shared/group_commit.py), one round trip and one commit for all — a commit that does
not wait for the log's flush (shared/db/commit_without_flush.py).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.context import restore
from shared.db import driver
from shared.db.commit_without_flush import COMMIT_WITHOUT_FLUSH
from shared.group_commit import GroupCommit
from shared.state_machine.claimed import Claimed
from shared.state_machine.moves import CLAIM
from shared.state_machine.outputs import OUTPUTS_SQL
from shared.state_machine.transitions import transition_sql

CLAIM_QUEUED_SQL = f"""
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[])
        AS i(id, owner, lease_expires_at, at)
    WHERE {COMMIT_WITHOUT_FLUSH}
), claimed AS (
    UPDATE executions AS e
    SET status = 'running',
        version = e.version + 1,
        lease_owner = i.owner,
        lease_expires_at = i.lease_expires_at,
        started_at = coalesce(e.started_at, i.at),
        current_node_id = coalesce(e.current_node_id, (
            SELECT node ->> 'id'
            FROM workflow_versions AS v, jsonb_array_elements(v.definition -> 'nodes') AS node
            WHERE v.workflow_id = e.workflow_id AND v.version = e.workflow_version
            ORDER BY (node ->> 'position')::int
            LIMIT 1
        ))
    FROM input AS i
    -- The ids again as constants: joined with the unnested asks alone, the plan followed
    -- the statistics, and on those of small tables it read every queued execution.
    WHERE e.id = i.id AND e.id = ANY($1::uuid[]) AND {CLAIM.sql_guard()}
    RETURNING e.id, e.workspace_id, e.workflow_id, e.workflow_version, e.version,
              e.current_node_id, e.context, {OUTPUTS_SQL} AS outputs, e.trigger_data,
              e.started_at, i.owner, i.at
), moved AS (
    {transition_sql("SELECT id, 'queued', 'running', 'claimed', owner, at FROM claimed")}
)
SELECT id, workspace_id, workflow_id, workflow_version, version, current_node_id, context,
       outputs, trigger_data, started_at
FROM claimed
"""


@dataclass(frozen=True)
class _Ask:
    execution_id: uuid.UUID
    owner: str
    lease_expires_at: datetime
    at: datetime


class QueuedClaims:
    """One worker's claims of queued runs; those asked for together share one statement."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._group: GroupCommit[_Ask, Claimed | None] = GroupCommit(self._write, name="claims")

    @property
    def statements(self) -> int:
        return self._group.statements

    async def claim(
        self, execution_id: uuid.UUID, *, owner: str, lease_seconds: float, now: datetime
    ) -> Claimed | None:
        """The claimed run, or None when it was not queued."""
        ask = _Ask(execution_id, owner, now + timedelta(seconds=lease_seconds), now)
        return await self._group.submit(ask)

    async def _write(self, asks: Sequence[_Ask]) -> list[Claimed | None]:
        return await _claim(self._engine, asks)


async def _claim(engine: AsyncEngine, asks: Sequence[_Ask]) -> list[Claimed | None]:
    rows = await driver.fetch(
        engine,
        CLAIM_QUEUED_SQL,
        [a.execution_id for a in asks],
        [a.owner for a in asks],
        [a.lease_expires_at for a in asks],
        [a.at for a in asks],
    )
    claimed = {row["id"]: _claimed(row) for row in rows}
    # The same run message delivered twice at once asks twice in one batch: the row is
    # claimed once, and only the first ask gets it.
    return [claimed.pop(a.execution_id, None) for a in asks]


def _claimed(row: Any) -> Claimed:
    # JSON columns arrive decoded: the connection comes from SQLAlchemy's pool, which
    # installs asyncpg codecs for json.
    return Claimed(
        execution_id=row["id"],
        workspace_id=row["workspace_id"],
        workflow_id=row["workflow_id"],
        workflow_version=row["workflow_version"],
        version=row["version"],
        current_node_id=row["current_node_id"],
        context=restore(row["context"], row["outputs"]),
        trigger_data=row["trigger_data"] or {},
        started_at=row["started_at"],
        first_claim=True,
    )

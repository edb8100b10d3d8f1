"""RESUME of `event` waits on PostgreSQL: settle, decide and claim in ONE statement, for every
resume asked for together.

The portable resume (resume.py) takes five round trips — BEGIN, read and lock the
wait, the node's `settle` reading its facts, decide and claim, COMMIT — because a node type's
rule is Python. An event wait's rule is simple enough for SQL: decided by the one event
accepted for its node, with that event's payload. Here, in order:

- `w`: each asked wait, still open and of kind `event`, locked (in id order: two batches never
  wait on each other crosswise). The gateway share-locks it while recording an event
  (the gateway's wait-event statement), so an event is either seen here or finds it decided;
- `ev`: the event accepted for the wait's node;
- `claimed`: the compare-and-set paused → running, only with an accepted event and while the
  execution is still paused at the wait's node; `decided` and `moved` follow only what it
  claimed, so the wait is decided exactly when its run is claimed;
- the node's `waiting` step, whose attempt the resumed node completes.

No row back for an ask means there was nothing to resume (a duplicate message, a wait already
decided, no accepted event): the caller acknowledges and drops the message, as with any claim
conflict. Resumes that arrive together (a burst of events) share the statement and its commit
(shared/group_commit.py).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.context import restore
from shared.db import driver
from shared.group_commit import GroupCommit
from shared.state_machine.claimed import Claimed
from shared.state_machine.moves import RESUME
from shared.state_machine.outputs import OUTPUTS_SQL
from shared.state_machine.transitions import transition_sql
from shared.state_machine.waits import WaitRecord
from shared.step_summary import MAX_SUMMARY_BYTES

RESUME_EVENT_WAITS_SQL = f"""
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[])
        AS i(execution_id, wait_id, owner, lease_expires_at, at)
), w AS MATERIALIZED (
    SELECT w.id, w.execution_id, w.node_id, w.rule, w.expires_at,
           i.owner, i.lease_expires_at, i.at
    FROM input AS i
    JOIN waits AS w ON w.id = i.wait_id AND w.execution_id = i.execution_id
    WHERE w.status = 'open' AND w.kind = 'event'
    ORDER BY w.id
    FOR UPDATE OF w
), ev AS MATERIALIZED (
    SELECT DISTINCT ON (w.id) w.id AS wait_id, v.id AS event_id, v.payload
    FROM w
    JOIN wait_events AS v ON v.execution_id = w.execution_id AND v.node_id = w.node_id
    WHERE v.status = 'accepted'
    ORDER BY w.id
), next AS MATERIALIZED (
    SELECT w.id AS wait_id, (
        SELECT n ->> 'id'
        FROM executions AS e2
        JOIN workflow_versions AS v
          ON v.workflow_id = e2.workflow_id AND v.version = e2.workflow_version,
        jsonb_array_elements(v.definition -> 'nodes') AS n
        WHERE e2.id = w.execution_id
          AND (n ->> 'position')::int > (
              SELECT (m ->> 'position')::int FROM jsonb_array_elements(v.definition -> 'nodes') AS m
              WHERE m ->> 'id' = w.node_id)
        ORDER BY (n ->> 'position')::int
        LIMIT 1
    ) AS node_id
    FROM w
), claimed AS (
    UPDATE executions AS e
    SET status = 'running', version = e.version + 1,
        lease_owner = w.owner, lease_expires_at = w.lease_expires_at,
        current_node_id = coalesce(x.node_id, e.current_node_id)
    FROM w JOIN ev ON ev.wait_id = w.id JOIN next AS x ON x.wait_id = w.id
    WHERE e.id = w.execution_id AND {RESUME.sql_guard()} AND e.current_node_id = w.node_id
    RETURNING e.id, e.workspace_id, e.workflow_id, e.workflow_version, e.version, e.context,
              {OUTPUTS_SQL} AS outputs, e.trigger_data, e.started_at, w.id AS wait_id,
              w.node_id, w.rule, w.expires_at, w.owner, w.at, ev.event_id, ev.payload,
              x.node_id AS next_node_id
), output AS (
    -- When a node follows the event node, the payload is the event node's output.
    INSERT INTO execution_outputs (execution_id, node_id, output, at)
    SELECT c.id, c.node_id, coalesce(c.payload, 'null'::jsonb)::json, c.at
    FROM claimed AS c
    WHERE c.next_node_id IS NOT NULL
    ON CONFLICT (execution_id, node_id) DO UPDATE SET output = excluded.output, at = excluded.at
), step AS (
    SELECT DISTINCT ON (c.id) c.id AS execution_id, s.id, s.attempt
    FROM claimed AS c
    JOIN execution_steps AS s
      ON s.execution_id = c.id AND s.node_id = c.node_id AND s.status = 'waiting'
    ORDER BY c.id, s.attempt DESC
), completed AS (
    -- The event node completes here when a node follows it: its output is the payload, and
    -- the run goes on from the next node with no checkpoint of the event node's own.
    UPDATE execution_steps AS s
    SET status = 'completed', completed_at = c.at, duration_ms = 0,
        output_summary = (CASE
            WHEN octet_length(c.payload::text) <= $6 THEN jsonb_build_object('output', c.payload)
            ELSE jsonb_build_object(
                'truncated', true, 'bytes', octet_length(c.payload::text),
                'keys', CASE WHEN jsonb_typeof(c.payload) = 'object' THEN (
                    SELECT jsonb_agg(k)
                    FROM (SELECT jsonb_object_keys(c.payload) AS k LIMIT 50) AS keys
                ) END)
        END)::json
    FROM claimed AS c JOIN step ON step.execution_id = c.id
    WHERE s.id = step.id AND c.next_node_id IS NOT NULL
), decided AS (
    UPDATE waits AS x
    SET status = 'decided', decided_at = c.at,
        decision = jsonb_build_object('outcome', 'received', 'event_id', c.event_id,
                                      'payload', c.payload)
    FROM claimed AS c
    WHERE x.id = c.wait_id
), moved AS (
    {transition_sql("SELECT id, 'paused', 'running', 'event wait decided', owner, at FROM claimed")}
)
SELECT c.*, s.id AS step_id, s.attempt AS step_attempt
FROM claimed AS c
LEFT JOIN step AS s ON s.execution_id = c.id
"""


@dataclass(frozen=True)
class Resumed:
    claimed: Claimed
    #: The event node.
    node_id: str
    #: Its wait, completed by the same statement (a node follows it): the run goes on
    #: from `claimed.current_node_id`. None: the claim resumes the event node itself.
    completed: WaitRecord | None
    #: The attempt of the event node that completed.
    attempt: int


@dataclass(frozen=True)
class _Ask:
    execution_id: uuid.UUID
    wait_id: uuid.UUID
    owner: str
    lease_expires_at: datetime
    at: datetime


class EventResumes:
    """One worker's resumes of event waits; those asked for together share one statement."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._group: GroupCommit[_Ask, Resumed | None] = GroupCommit(
            self._write, name="event resumes"
        )

    async def claim(
        self,
        execution_id: uuid.UUID,
        wait_id: uuid.UUID,
        *,
        owner: str,
        lease_seconds: float,
        now: datetime,
    ) -> Resumed | None:
        """The run claimed with its wait decided; None when there was nothing to resume."""
        ask = _Ask(execution_id, wait_id, owner, now + timedelta(seconds=lease_seconds), now)
        return await self._group.submit(ask)

    async def _write(self, asks: Sequence[_Ask]) -> list[Resumed | None]:
        rows = await driver.fetch(
            self._engine,
            RESUME_EVENT_WAITS_SQL,
            [a.execution_id for a in asks],
            [a.wait_id for a in asks],
            [a.owner for a in asks],
            [a.lease_expires_at for a in asks],
            [a.at for a in asks],
            MAX_SUMMARY_BYTES,
        )
        claimed = {row["wait_id"]: _claim(row) for row in rows}
        # A resume delivered twice at once asks twice in one batch: only the first gets it.
        return [claimed.pop(a.wait_id, None) for a in asks]


def _claim(row: Any) -> Resumed:
    decision = {"outcome": "received", "event_id": row["event_id"], "payload": row["payload"]}
    wait = WaitRecord(
        id=row["wait_id"],
        kind="event",
        rule=row["rule"] or {},
        facts={},
        decision=decision,
        expires_at=row["expires_at"],
    )
    fields: dict[str, Any] = {
        "execution_id": row["id"],
        "workspace_id": row["workspace_id"],
        "workflow_id": row["workflow_id"],
        "workflow_version": row["workflow_version"],
        "version": row["version"],
        "context": restore(row["context"], row["outputs"]),
        "trigger_data": row["trigger_data"] or {},
        "started_at": row["started_at"] or row["at"],
    }
    attempt = row["step_attempt"] or 1
    if row["next_node_id"] is not None:
        # The statement stored the payload as the event node's output after reading the
        # outputs (a statement sees the database as it was when it began).
        outputs = {**(row["outputs"] or {}), row["node_id"]: row["payload"]}
        fields["context"] = restore(row["context"], outputs)
        claimed = Claimed(current_node_id=row["next_node_id"], **fields)
        return Resumed(claimed, row["node_id"], wait, attempt)
    step = {"open_step_id": row["step_id"], "attempt": attempt} if row["step_id"] else {}
    claimed = Claimed(current_node_id=row["node_id"], wait=wait, **fields, **step)
    return Resumed(claimed, row["node_id"], None, attempt)

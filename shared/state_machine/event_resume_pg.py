"""RESUME of `event` waits on PostgreSQL: settled, decided and claimed in ONE statement for
every resume asked for together (the pieces shared with other kinds: fused_resume_pg.py).

An event wait is decided by the one event accepted for its node, with that event's payload.
After `w` (each asked wait, locked):
- `ev`: the event accepted for the wait's node;
- `next`: the node after the event node, if any;
- `claimed`: the compare-and-set paused → running, only with an accepted event and while the
  execution is still paused at the wait's node;
- with a node after it, the event node completes in the same statement (`output`,
  `completed`): its output is the payload, and the run goes on from the next node with no
  checkpoint of the event node's own.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.state_machine.claimed import Claimed
from shared.state_machine.fused_resume_pg import (
    CLAIMED_COLUMNS,
    CLAIMED_RUNS_SQL,
    WAITING_STEP_SQL,
    Ask,
    FusedResumes,
    Resumed,
    claimed_fields,
    decided_wait,
    locked_waits_sql,
    resumed_at_wait,
)
from shared.state_machine.moves import RESUME
from shared.state_machine.outputs import OUTPUTS_SQL
from shared.state_machine.transitions import transition_sql
from shared.step_summary import MAX_SUMMARY_BYTES

RESUME_EVENT_WAITS_SQL = f"""
WITH {locked_waits_sql("event")}, ev AS MATERIALIZED (
    SELECT DISTINCT ON (w.id) w.id AS wait_id, v.id AS event_id, v.payload
    FROM w
    JOIN wait_events AS v ON v.execution_id = w.execution_id AND v.node_id = w.node_id
    WHERE v.execution_id = ANY($1::uuid[]) AND v.status = 'accepted'
    ORDER BY w.id
), next AS MATERIALIZED (
    SELECT w.id AS wait_id, (
        SELECT n ->> 'id'
        FROM executions AS e2
        JOIN workflow_versions AS v
          ON v.workflow_id = e2.workflow_id AND v.version = e2.workflow_version,
        -- The event node's position, found once (as a subquery in the filter it was looked
        -- up again for every node: ten times the cost).
        LATERAL (
            SELECT (m ->> 'position')::int AS position
            FROM jsonb_array_elements(v.definition -> 'nodes') AS m
            WHERE m ->> 'id' = w.node_id
        ) AS here,
        jsonb_array_elements(v.definition -> 'nodes') AS n
        WHERE e2.id = w.execution_id AND (n ->> 'position')::int > here.position
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
    WHERE e.id = w.execution_id AND e.id = ANY($1::uuid[]) AND {RESUME.sql_guard()}
      AND e.current_node_id = w.node_id
    RETURNING {CLAIMED_COLUMNS}, {OUTPUTS_SQL} AS outputs, w.id AS wait_id,
              w.node_id, w.rule, w.expires_at, w.owner, w.at, ev.event_id, ev.payload,
              x.node_id AS next_node_id
), output AS (
    -- When a node follows the event node, the payload is the event node's output.
    INSERT INTO execution_outputs (execution_id, node_id, output, at)
    SELECT c.id, c.node_id, coalesce(c.payload, 'null'::jsonb)::json, c.at
    FROM claimed AS c
    WHERE c.next_node_id IS NOT NULL
    ON CONFLICT (execution_id, node_id) DO UPDATE SET output = excluded.output, at = excluded.at
), {WAITING_STEP_SQL}, completed AS (
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
{CLAIMED_RUNS_SQL}
"""


def event_resumes(engine: AsyncEngine) -> FusedResumes:
    """One worker's resumes of event waits."""
    return FusedResumes(
        engine,
        RESUME_EVENT_WAITS_SQL,
        name="event resumes",
        resumed=_resumed,
        extra=_summary_limit,
    )


def _summary_limit(_: Sequence[Ask]) -> list[Any]:
    return [MAX_SUMMARY_BYTES]


def _resumed(row: Any) -> Resumed:
    decision = {"outcome": "received", "event_id": row["event_id"], "payload": row["payload"]}
    wait = decided_wait(row, "event", decision)
    if row["next_node_id"] is None:
        return resumed_at_wait(row, wait)
    # The statement stored the payload as the event node's output after reading the outputs
    # (a statement sees the database as it was when it began).
    outputs = {**(row["outputs"] or {}), row["node_id"]: row["payload"]}
    claimed = Claimed(current_node_id=row["next_node_id"], **claimed_fields(row, outputs))
    return Resumed(claimed, row["node_id"], wait, row["step_attempt"] or 1)

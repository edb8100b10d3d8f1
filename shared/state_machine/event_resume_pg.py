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

from shared.state_machine.fused_resume_pg import (
    CLAIMED_COLUMNS,
    CLAIMED_RUNS_SQL,
    NEXT_NODE_SQL,
    Ask,
    FusedResumes,
    Resumed,
    completed_node_sql,
    decided_wait,
    locked_waits_sql,
    resumed_at_wait,
    resumed_past_wait,
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
), {NEXT_NODE_SQL}, claimed AS (
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
), {completed_node_sql("c.payload", "$6")}, decided AS (
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
        return resumed_at_wait(row, wait, "event")
    return resumed_past_wait(row, wait, row["payload"], "event")

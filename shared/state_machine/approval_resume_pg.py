"""RESUME of approval gates on PostgreSQL, after an approver's decision: the gate's rule
applied, the wait decided and the run claimed in ONE statement for every resume asked for
together (the pieces shared with other kinds: fused_resume_pg.py).

The rule is the one services/executor/nodes/approval_rule.py states — approved when
approvals ≥ required, rejected when approvals + pending < required, counting only pending,
approved and rejected approvers — spelled in SQL, and the decision is the JSON that module's
`decision()` writes, field for field. After `w` (each asked gate, locked):
- `approver`: the gate's approvers, share-locked so that each is read as last committed (a
  decision recorded while this statement waited for the gate is counted, not missed);
- `tally`: the gate's approvers counted by status, and listed in their order;
- `verdict`: the decision, only for a gate the rule decides (a gate still short of its
  quorum yields nothing: the message is acknowledged and the run stays paused);
- `claimed`: the compare-and-set paused → running at the gate's node, whose `resume` then
  turns the decision into the node's outcome, as after the portable resume.

A gate's deadline is not applied here: an `expired` resume takes the portable path, where the
node expires its pending approvers.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.state_machine.fused_resume_pg import (
    CLAIMED_COLUMNS,
    CLAIMED_RUNS_SQL,
    WAITING_STEP_SQL,
    Ask,
    FusedResumes,
    Resumed,
    decided_wait,
    locked_waits_sql,
    resumed_at_wait,
)
from shared.state_machine.moves import RESUME
from shared.state_machine.outputs import OUTPUTS_SQL
from shared.state_machine.transitions import transition_sql
from shared.status import COUNTED_APPROVER_STATUSES


def _iso(column: str) -> str:
    """`column` (timestamptz) as Python's `datetime.isoformat()` writes a UTC time: six
    digits of fraction unless it is zero, then none, and `+00:00`."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE "
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| CASE WHEN date_part('microseconds', {column})::bigint % 1000000 = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || '+00:00' END"
    )


_MOVED = "SELECT id, 'paused', 'running', 'approval wait decided', owner, at FROM claimed"

_COUNTED = "(" + ", ".join(f"'{status}'" for status in COUNTED_APPROVER_STATUSES) + ")"

RESUME_APPROVAL_GATES_SQL = f"""
WITH {locked_waits_sql("approval")}, approver AS MATERIALIZED (
    -- Locked, so each row is read as last committed, not as the statement's snapshot had it:
    -- a decision the gateway recorded while this statement waited for the gate's lock was
    -- recorded on time (the gate was open) and must be counted. Reading the snapshot missed
    -- it, and it was neither counted nor late.
    SELECT a.id, a.wait_id, a.status, a.email, a.name, a.comment, a.decided_at, a.position,
           a.created_at
    FROM approvals AS a
    WHERE a.wait_id = ANY($2::uuid[]) AND a.wait_id IN (SELECT id FROM w)
    ORDER BY a.id
    FOR SHARE OF a
), tally AS MATERIALIZED (
    -- Per gate, not per ask: a resume delivered twice at once asks twice in one batch.
    SELECT g.id AS wait_id, g.rule, (g.rule ->> 'required')::int AS required,
           count(a.id) FILTER (WHERE a.status = 'approved') AS approved,
           count(a.id) FILTER (WHERE a.status = 'rejected') AS rejected,
           count(a.id) FILTER (WHERE a.status = 'pending') AS pending,
           coalesce(
               jsonb_agg(jsonb_build_object(
                   'email', a.email, 'name', a.name, 'status', a.status,
                   'comment', a.comment, 'decided_at', {_iso("a.decided_at")})
                   ORDER BY a.position, a.created_at) FILTER (WHERE a.id IS NOT NULL),
               '[]'::jsonb) AS approvers
    FROM (SELECT DISTINCT id, rule FROM w) AS g
    LEFT JOIN approver AS a ON a.wait_id = g.id AND a.status IN {_COUNTED}
    GROUP BY g.id, g.rule
), verdict AS MATERIALIZED (
    SELECT t.wait_id, jsonb_build_object(
        'outcome', CASE WHEN t.approved >= t.required THEN 'approved' ELSE 'rejected' END,
        'by', 'rule', 'strategy', t.rule -> 'strategy', 'required', t.rule -> 'required',
        'approved', t.approved, 'rejected', t.rejected, 'pending', t.pending,
        'decided_at', d.decided_at, 'approvers', t.approvers) AS decision
    FROM tally AS t
    JOIN (
        SELECT DISTINCT ON (wait_id) * FROM unnest($2::uuid[], $6::text[]) AS d(wait_id, decided_at)
    ) AS d ON d.wait_id = t.wait_id
    WHERE t.approved >= t.required OR t.approved + t.pending < t.required
), claimed AS (
    UPDATE executions AS e
    SET status = 'running', version = e.version + 1,
        lease_owner = w.owner, lease_expires_at = w.lease_expires_at
    FROM w JOIN verdict AS v ON v.wait_id = w.id
    WHERE e.id = w.execution_id AND e.id = ANY($1::uuid[]) AND {RESUME.sql_guard()}
      AND e.current_node_id = w.node_id
    RETURNING {CLAIMED_COLUMNS}, {OUTPUTS_SQL} AS outputs, w.id AS wait_id,
              w.node_id, w.rule, w.expires_at, w.owner, w.at, v.decision
), decided AS (
    UPDATE waits AS x
    SET status = 'decided', decided_at = c.at, decision = c.decision
    FROM claimed AS c
    WHERE x.id = c.wait_id
), moved AS (
    {transition_sql(_MOVED)}
), {WAITING_STEP_SQL}
{CLAIMED_RUNS_SQL}
"""


def approval_resumes(engine: AsyncEngine) -> FusedResumes:
    """One worker's resumes of approval gates after a decision."""
    return FusedResumes(
        engine,
        RESUME_APPROVAL_GATES_SQL,
        name="approval resumes",
        resumed=_resumed,
        extra=_decided_at,
    )


def _decided_at(asks: Sequence[Ask]) -> list[Any]:
    # The decision's time as the portable rule writes it (`at.isoformat()`).
    return [[a.at.isoformat() for a in asks]]


def _resumed(row: Any) -> Resumed:
    return resumed_at_wait(row, decided_wait(row, "approval", row["decision"]))

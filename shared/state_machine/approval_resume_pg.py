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

from shared.nodes.approval import GATE_OUTPUT_KEYS
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
from shared.status import COUNTED_APPROVER_STATUSES
from shared.step_summary import MAX_SUMMARY_BYTES

#: The gate's node type (services/executor/nodes/approval.py).
NODE_TYPE = "human-in-loop"


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

#: The gate's output, as ApprovalNode.resume makes it: the decision's GATE_OUTPUT_KEYS.
_GATE_OUTPUT = (
    "jsonb_build_object("
    + ", ".join(f"'{key}', v.decision -> '{key}'" for key in GATE_OUTPUT_KEYS)
    + ")"
)

#: Over what the gate's output (`summary`: outcome, by and two counts) can take.
MAX_GATE_OUTPUT_BYTES = 256

#: The execution's context with the decision as `approvals.<gate>`, every other key where it
#: was (as `{**approvals, gate: decision}` in ApprovalNode.resume): `e` is the locked row.
_WITH_DECISION = """(
    SELECT json_object_agg(k, CASE WHEN k = 'approvals' THEN gates.decided ELSE v END ORDER BY n)
    FROM (
        SELECT k, v, n FROM json_each(coalesce(e.context, '{}'::json)) WITH ORDINALITY AS c(k, v, n)
        UNION ALL
        SELECT 'approvals', NULL, 9223372036854775807
        WHERE coalesce(e.context, '{}'::json) -> 'approvals' IS NULL
    ) AS parts, (
        SELECT json_object_agg(k, CASE WHEN k = w.node_id THEN p.decision::json ELSE v END
                               ORDER BY n) AS decided
        FROM (
            SELECT k, v, n
            FROM json_each(coalesce(e.context -> 'approvals', '{}'::json))
                 WITH ORDINALITY AS a(k, v, n)
            UNION ALL
            SELECT w.node_id, NULL, 9223372036854775807
            WHERE e.context -> 'approvals' -> w.node_id IS NULL
        ) AS earlier
    ) AS gates
)"""

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
), {NEXT_NODE_SQL}, plan AS MATERIALIZED (
    -- Where each decided gate's run goes on. The gate's node completes here when it would
    -- complete in Python (approved, or rejected with `on_reject: continue`), a node follows
    -- it, and the context cannot be near a limit: the sizes below overestimate the encoded
    -- context the runner would measure (the decision counted twice, for the output too).
    -- Otherwise the run is claimed at the gate and its `resume` runs in the worker.
    SELECT w.id AS wait_id, v.decision,
           {_GATE_OUTPUT} AS summary,
           CASE WHEN (v.decision ->> 'outcome' = 'approved'
                      OR w.rule ->> 'on_reject' = 'continue')
                 AND $8 >= {MAX_GATE_OUTPUT_BYTES}
                 AND coalesce((SELECT octet_length(e3.context::text) FROM executions AS e3
                               WHERE e3.id = w.execution_id), 0)
                     + coalesce((SELECT sum(octet_length(o.node_id)
                                            + octet_length(o.output::text) + 8)
                                 FROM execution_outputs AS o
                                 WHERE o.execution_id = w.execution_id), 0)
                     + 2 * (octet_length(v.decision::text) + octet_length(w.node_id) + 8)
                     + {MAX_GATE_OUTPUT_BYTES} <= $7
                THEN x.node_id END AS next_node_id
    FROM w JOIN verdict AS v ON v.wait_id = w.id JOIN next AS x ON x.wait_id = w.id
), claimed AS (
    UPDATE executions AS e
    SET status = 'running', version = e.version + 1,
        lease_owner = w.owner, lease_expires_at = w.lease_expires_at,
        current_node_id = coalesce(p.next_node_id, e.current_node_id),
        context = CASE WHEN p.next_node_id IS NULL THEN e.context ELSE {_WITH_DECISION} END
    FROM w JOIN plan AS p ON p.wait_id = w.id
    WHERE e.id = w.execution_id AND e.id = ANY($1::uuid[]) AND {RESUME.sql_guard()}
      AND e.current_node_id = w.node_id
    RETURNING {CLAIMED_COLUMNS}, {OUTPUTS_SQL} AS outputs, w.id AS wait_id,
              w.node_id, w.rule, w.expires_at, w.owner, w.at, p.decision, p.summary,
              p.next_node_id
), decided AS (
    UPDATE waits AS x
    SET status = 'decided', decided_at = c.at, decision = c.decision
    FROM claimed AS c
    WHERE x.id = c.wait_id
), moved AS (
    {transition_sql(_MOVED)}
), {completed_node_sql("c.summary", "$9")}
{CLAIMED_RUNS_SQL}
"""


def approval_resumes(
    engine: AsyncEngine, *, max_context_bytes: int, max_node_output_bytes: int
) -> FusedResumes:
    """One worker's resumes of approval gates after a decision; the limits are the
    executor's (a gate whose completion could reach one completes in the worker, which
    applies it)."""

    def extra(asks: Sequence[Ask]) -> list[Any]:
        # The decision's time as the portable rule writes it (`at.isoformat()`).
        decided_at = [a.at.isoformat() for a in asks]
        return [decided_at, max_context_bytes, max_node_output_bytes, MAX_SUMMARY_BYTES]

    return FusedResumes(
        engine, RESUME_APPROVAL_GATES_SQL, name="approval resumes", resumed=_resumed, extra=extra
    )


def _resumed(row: Any) -> Resumed:
    wait = decided_wait(row, "approval", row["decision"])
    if row["next_node_id"] is None:
        return resumed_at_wait(row, wait, NODE_TYPE)
    return resumed_past_wait(row, wait, row["summary"], NODE_TYPE)

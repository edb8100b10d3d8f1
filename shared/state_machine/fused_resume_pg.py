"""RESUME in ONE statement on PostgreSQL, for the wait kinds whose rule SQL can spell.

The portable resume (resume.py) takes five round trips — BEGIN, read and lock the wait, the
node's `settle` reading its facts, decide and claim, COMMIT — because a node type's rule is
Python. Where the rule is simple enough for SQL (an `event` wait: event_resume_pg.py; an
`approval` gate: approval_resume_pg.py), the statement settles, decides and claims at once,
for every resume asked for together. Each such statement is built of the pieces here:

- the statement commits without waiting for the log's flush, as every claim does
  (shared/db/commit_without_flush.py);
- `input`, `w`: each asked wait, still open and of the statement's kind, locked in id order
  (two batches never wait on each other crosswise). The gateway locks the wait while
  recording a fact (an event: FOR SHARE; an approver's decision, which also marks the gate:
  FOR NO KEY UPDATE), so a fact is either seen here or finds the wait decided — never lost;
- every table is also constrained by the asked ids as constants (`= ANY($1)`, `= ANY($2)`),
  redundant with the joins: a join with the unnested asks alone left the plan to the
  statistics, and on those of tables analyzed while small (a new deployment, a server without
  autovacuum) PostgreSQL read every open wait of the kind for the one asked — ten times the
  cost at a thousand parked runs, growing with them;
- then the kind's own rule and its `claimed` compare-and-set (paused → running, only while
  the execution is paused at the wait's node), with `decided` and the transition following
  only what it claimed: the wait is decided exactly when its run is claimed;
- `step`: the node's `waiting` step, whose attempt the resumed node completes;
- `next` (`NEXT_NODE_SQL`): the node after the wait's, for the kinds whose statement also
  completes the wait's node, so the run goes on from there with no checkpoint of its own.

No row back for an ask means there was nothing to resume (a duplicate message, a wait already
decided, a rule not met yet): the caller acknowledges and drops the message, as with any
claim conflict. Resumes that arrive together share the statement and its commit
(shared/group_commit.py).
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.context import restore
from shared.db import driver
from shared.db.commit_without_flush import COMMIT_WITHOUT_FLUSH
from shared.group_commit import GroupCommit
from shared.state_machine.claimed import Claimed
from shared.state_machine.waits import WaitRecord


def locked_waits_sql(kind: str) -> str:
    """The `input` and `w` CTEs: parameters $1 to $5 are the asks' execution ids, wait ids,
    owners, lease ends and times, one array element per ask."""
    return f"""input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[])
        AS i(execution_id, wait_id, owner, lease_expires_at, at)
    WHERE {COMMIT_WITHOUT_FLUSH}
), w AS MATERIALIZED (
    SELECT w.id, w.execution_id, w.node_id, w.rule, w.expires_at,
           i.owner, i.lease_expires_at, i.at
    FROM input AS i
    JOIN waits AS w ON w.id = i.wait_id AND w.execution_id = i.execution_id
    -- The wait's status and kind only check the row the ids found, written so that no index
    -- can serve them (as MOVES' guards): as index conditions they let the planner read the
    -- partial index of open waits of the kind whole, whenever its statistics were taken
    -- before the runs parked.
    WHERE w.id = ANY($2::uuid[]) AND (w.status = 'open' AND w.kind = '{kind}') IS TRUE
    ORDER BY w.id
    FOR UPDATE OF w
)"""


#: The columns of `executions` a claim hands its worker (see `claimed_fields`).
CLAIMED_COLUMNS = (
    "e.id, e.workspace_id, e.workflow_id, e.workflow_version, e.version, e.context, "
    "e.trigger_data, e.started_at"
)

#: The node's latest `waiting` step of each claimed run.
WAITING_STEP_SQL = """step AS (
    SELECT DISTINCT ON (c.id) c.id AS execution_id, s.id, s.attempt
    FROM claimed AS c
    JOIN execution_steps AS s
      ON s.execution_id = c.id AND s.node_id = c.node_id AND s.status = 'waiting'
    WHERE s.execution_id = ANY($1::uuid[])
    ORDER BY c.id, s.attempt DESC
)"""

#: The node after each locked wait's node by position (None for the last): where a run goes
#: on when the statement completes the wait's node, as the runner's order has it.
NEXT_NODE_SQL = """next AS MATERIALIZED (
    SELECT w.id AS wait_id, (
        SELECT n ->> 'id'
        FROM executions AS e2
        JOIN workflow_versions AS v
          ON v.workflow_id = e2.workflow_id AND v.version = e2.workflow_version,
        -- The wait node's position, found once (as a subquery in the filter it was looked
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
)"""


def completed_node_sql(output: str, summary_limit: str) -> str:
    """The `step`, `output` and `completed` CTEs: for each claimed run with a node after the
    wait's (`c.next_node_id`), the wait's node completes in the statement — `output` (a jsonb
    expression over `claimed AS c`) stored as its output, its waiting step completed with the
    summary a step row keeps (shared/step_summary.py; `summary_limit` is the parameter holding
    MAX_SUMMARY_BYTES) — and the run goes on from the next node with no checkpoint of the wait
    node's own."""
    return f"""output AS (
    INSERT INTO execution_outputs (execution_id, node_id, output, at)
    SELECT c.id, c.node_id, coalesce({output}, 'null'::jsonb)::json, c.at
    FROM claimed AS c
    WHERE c.next_node_id IS NOT NULL
    ON CONFLICT (execution_id, node_id) DO UPDATE SET output = excluded.output, at = excluded.at
), {WAITING_STEP_SQL}, completed AS (
    UPDATE execution_steps AS s
    SET status = 'completed', completed_at = c.at, duration_ms = 0,
        output_summary = (CASE
            -- No output, no summary (as `summarize(None)`).
            WHEN coalesce({output}, 'null'::jsonb) = 'null'::jsonb THEN NULL
            WHEN octet_length({output}::text) <= {summary_limit}
                THEN jsonb_build_object('output', {output})
            ELSE jsonb_build_object(
                'truncated', true, 'bytes', octet_length({output}::text),
                'keys', CASE WHEN jsonb_typeof({output}) = 'object' THEN (
                    SELECT jsonb_agg(k)
                    FROM (SELECT jsonb_object_keys({output}) AS k LIMIT 50) AS keys
                ) END)
        END)::json
    FROM claimed AS c JOIN step ON step.execution_id = c.id
    WHERE s.id = step.id AND c.next_node_id IS NOT NULL
)"""


#: What the statement answers: each claimed run with its waiting step.
CLAIMED_RUNS_SQL = """SELECT c.*, s.id AS step_id, s.attempt AS step_attempt
FROM claimed AS c
LEFT JOIN step AS s ON s.execution_id = c.id"""


@dataclass(frozen=True)
class Resumed:
    claimed: Claimed
    #: The wait's node.
    node_id: str
    #: Its wait, when the same statement also completed the node (an event node with a node
    #: after it): the run goes on from `claimed.current_node_id`. None: the claim resumes the
    #: wait's node itself, with `claimed.wait` decided.
    completed: WaitRecord | None
    #: The attempt of the wait's node.
    attempt: int
    #: The wait node's type, as its `node.completed` event names it.
    node_type: str


def claimed_fields(row: Any, outputs: dict[str, Any] | None) -> dict[str, Any]:
    """`Claimed`'s fields from a row of `CLAIMED_COLUMNS` and the run's node outputs."""
    return {
        "execution_id": row["id"],
        "workspace_id": row["workspace_id"],
        "workflow_id": row["workflow_id"],
        "workflow_version": row["workflow_version"],
        "version": row["version"],
        "context": restore(row["context"], outputs),
        "trigger_data": row["trigger_data"] or {},
        "started_at": row["started_at"] or row["at"],
    }


def decided_wait(row: Any, kind: str, decision: dict[str, Any]) -> WaitRecord:
    """The wait of a claimed row, as the statement decided it."""
    return WaitRecord(
        id=row["wait_id"],
        kind=kind,
        rule=row["rule"] or {},
        facts={},
        decision=decision,
        expires_at=row["expires_at"],
    )


def resumed_at_wait(row: Any, wait: WaitRecord, node_type: str) -> Resumed:
    """The run claimed to resume the wait's node (of `node_type`) with `wait` decided."""
    attempt = row["step_attempt"] or 1
    step = {"open_step_id": row["step_id"], "attempt": attempt} if row["step_id"] else {}
    fields = claimed_fields(row, row["outputs"])
    claimed = Claimed(current_node_id=row["node_id"], wait=wait, **fields, **step)
    return Resumed(claimed, row["node_id"], None, attempt, node_type)


def resumed_past_wait(row: Any, wait: WaitRecord, output: Any, node_type: str) -> Resumed:
    """The run claimed at the node after the wait's, which the statement completed with
    `output`."""
    # The statement stored the output after reading the outputs (a statement sees the
    # database as it was when it began).
    outputs = {**(row["outputs"] or {}), row["node_id"]: output}
    claimed = Claimed(current_node_id=row["next_node_id"], **claimed_fields(row, outputs))
    return Resumed(claimed, row["node_id"], wait, row["step_attempt"] or 1, node_type)


@dataclass(frozen=True)
class Ask:
    execution_id: uuid.UUID
    wait_id: uuid.UUID
    owner: str
    lease_expires_at: datetime
    at: datetime


class FusedResumes:
    """One worker's resumes of one wait kind; those asked for together share one statement.

    `sql` takes the asks as $1 to $5 (`locked_waits_sql`) and `extra(asks)` as the parameters
    after them, and returns a row per claimed run with its `wait_id`; `resumed(row)` makes
    the claim of a row.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sql: str,
        *,
        name: str,
        resumed: Callable[[Any], Resumed],
        extra: Callable[[Sequence[Ask]], list[Any]] = lambda _: [],
    ) -> None:
        self._engine = engine
        self._sql = sql
        self._resumed = resumed
        self._extra = extra
        self._group: GroupCommit[Ask, Resumed | None] = GroupCommit(self._write, name=name)

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
        ask = Ask(execution_id, wait_id, owner, now + timedelta(seconds=lease_seconds), now)
        return await self._group.submit(ask)

    async def _write(self, asks: Sequence[Ask]) -> list[Resumed | None]:
        rows = await driver.fetch(
            self._engine,
            self._sql,
            [a.execution_id for a in asks],
            [a.wait_id for a in asks],
            [a.owner for a in asks],
            [a.lease_expires_at for a in asks],
            [a.at for a in asks],
            *self._extra(asks),
        )
        claimed = {row["wait_id"]: self._resumed(row) for row in rows}
        # A resume delivered twice at once asks twice in one batch: only the first gets it.
        return [claimed.pop(a.wait_id, None) for a in asks]

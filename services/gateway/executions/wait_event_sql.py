"""Recording an external event as ONE PostgreSQL statement (autocommitted).

The same steps as `wait_events._statement_by_statement`, in one round trip instead of eight:
- `pin`, `node`: the execution (in the caller's workspace, for an API key) and the event node
  of its pinned workflow version, by id (a resume URL) or by event name. Looking them up was a
  round trip of its own before each event, a tenth of the resume latency;
- `go`: the node, when the delivery may be recorded: it has no schema, or the caller checked
  the payload against it (`$12`; the first run of a node with a schema records nothing and
  tells the caller which node and version to check against);
- `prior`: an earlier delivery with the same de-duplication key (a repeat);
- `w`: the node's latest wait, share-locked as the executor takes it exclusively while deciding
  it; read under the lock, its status is the one that holds;
- `acc`: the event `accepted` when on time; `ON CONFLICT DO NOTHING` lets a concurrent repeat
  or an event accepted first (the partial unique index) turn it away;
- `late`: otherwise the event recorded `late`;
- `staged`: the resume's outbox row for an accepted event: `ResumeExecution` of the open wait,
  or `EventArrived` when no open wait was visible. Bodies are the messages pydantic built,
  with the wait's (or the node's) id merged in.

The statement commits without waiting for the log's flush; the caller publishes the resume,
then waits for the flush before it answers (docs/decisions/032).

A repeat still in flight (its insert waited for our key and found it taken, yet the statement's
snapshot predates it) comes back with nothing recorded and nothing found: the caller runs the
statement again, which then sees it.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import driver
from shared.db.commit_without_flush import COMMIT_WITHOUT_FLUSH

RECORD_SQL = f"""
WITH pin AS MATERIALIZED (
    SELECT workspace_id, workflow_id, workflow_version, status FROM executions
    WHERE id = $1 AND ($2::uuid IS NULL OR workspace_id = $2::uuid) AND {COMMIT_WITHOUT_FLUSH}
), node AS MATERIALIZED (
    SELECT n ->> 'id' AS id, n -> 'config' ->> 'name' AS name,
           coalesce(n -> 'config' -> 'schema', n -> 'config' -> 'payload_schema',
                    'null'::jsonb) <> 'null'::jsonb AS has_schema
    FROM pin
    JOIN workflow_versions AS v
      ON v.workflow_id = pin.workflow_id AND v.version = pin.workflow_version,
    jsonb_array_elements(v.definition -> 'nodes') AS n
    WHERE n ->> 'type' = 'event' AND (n ->> 'id' = $3 OR n -> 'config' ->> 'name' = $4)
    ORDER BY (n ->> 'position')::int
    LIMIT 1
), go AS MATERIALIZED (
    -- A payload is recorded only once its node's schema, if it has one, was checked ($12).
    SELECT id, name FROM node WHERE NOT has_schema OR $12
), prior AS MATERIALIZED (
    SELECT id, status FROM wait_events
    WHERE execution_id = $1 AND node_id = (SELECT id FROM go) AND dedup_key = $5
), w AS MATERIALIZED (
    SELECT id, status, expires_at FROM waits
    WHERE execution_id = $1 AND node_id = (SELECT id FROM go) AND kind = 'event'
    ORDER BY created_at DESC
    LIMIT 1
    FOR SHARE
), state AS MATERIALIZED (
    SELECT (SELECT id FROM w) AS wait_id,
           EXISTS (SELECT 1 FROM go)
           AND NOT EXISTS (SELECT 1 FROM prior)
           AND (SELECT status FROM pin) NOT IN ('completed', 'failed', 'cancelled')
           AND (NOT EXISTS (SELECT 1 FROM w)
                OR EXISTS (SELECT 1 FROM w WHERE status = 'open'
                           AND (expires_at IS NULL OR expires_at > $8))) AS on_time
), acc AS (
    INSERT INTO wait_events (workspace_id, execution_id, node_id, name, dedup_key, via,
                             status, payload, wait_id, received_at)
    SELECT p.workspace_id, $1, g.id, g.name, $5, $6, 'accepted', $7::jsonb, s.wait_id, $8
    FROM state AS s, go AS g, pin AS p WHERE s.on_time
    ON CONFLICT DO NOTHING
    RETURNING id, wait_id
), late AS (
    INSERT INTO wait_events (workspace_id, execution_id, node_id, name, dedup_key, via,
                             status, payload, wait_id, received_at)
    SELECT p.workspace_id, $1, g.id, g.name, $5, $6, 'late', $7::jsonb, NULL, $8
    FROM go AS g, pin AS p
    WHERE NOT EXISTS (SELECT 1 FROM prior) AND NOT EXISTS (SELECT 1 FROM acc)
    ON CONFLICT DO NOTHING
    RETURNING id
), staged AS (
    INSERT INTO outbox (queue, body, created_at)
    SELECT $9,
           (CASE WHEN acc.wait_id IS NULL
                 THEN $11::jsonb || jsonb_build_object('node_id', (SELECT id FROM go))
                 ELSE $10::jsonb || jsonb_build_object('wait_id', acc.wait_id) END)::json,
           $8
    FROM acc
    RETURNING id
)
SELECT (SELECT workspace_id FROM pin) AS workspace_id,
       (SELECT workflow_id FROM pin) AS workflow_id,
       (SELECT workflow_version FROM pin) AS workflow_version,
       (SELECT id FROM node) AS node_id, (SELECT name FROM node) AS name,
       (SELECT has_schema FROM node) AS has_schema,
       (SELECT id FROM acc) AS accepted_id, (SELECT wait_id FROM acc) AS wait_id,
       (SELECT id FROM late) AS late_id, (SELECT id FROM prior) AS prior_id,
       (SELECT status FROM prior) AS prior_status, (SELECT id FROM staged) AS outbox_id
"""

#: A repeat in flight needs one more run; more than a few means something else is wrong.
MAX_RUNS = 5


@dataclass(frozen=True)
class Row:
    #: The event node the delivery is for; None when the execution (in the caller's
    #: workspace) or its event node does not exist, and nothing was recorded.
    node_id: str | None
    name: str | None
    #: The pinned workflow version, to find the node's schema.
    workflow_id: uuid.UUID | None
    workflow_version: int | None
    #: None: nothing recorded yet — the node has a schema for the caller to check first.
    event_id: int | None = None
    #: accepted | late
    status: str | None = None
    repeat: bool = False
    #: The open wait the resume is for (None: `EventArrived`, or no resume).
    wait_id: uuid.UUID | None = None
    outbox_id: int | None = None


async def record_in_one_statement(
    engine: AsyncEngine,
    *,
    execution_id: uuid.UUID,
    workspace_id: uuid.UUID | None,
    node_id: str | None,
    name: str | None,
    dedup_key: str,
    via: str,
    payload: Any,
    at: datetime,
    queue: str,
    resume: dict[str, Any],
    arrived: dict[str, Any],
    checked: bool,
) -> Row:
    """The delivery for the event node with id `node_id` or named `name` of the execution
    (in `workspace_id`, when given), recorded unless that node has a schema and `checked` is
    false: then the row says which node and version to check the payload against."""
    args = (
        execution_id,
        workspace_id,
        node_id,
        name,
        dedup_key,
        via,
        driver.as_json(payload),
        at,
        queue,
        json.dumps(resume),
        json.dumps(arrived),
        checked,
    )
    for _ in range(MAX_RUNS):
        found = await driver.fetchrow(engine, RECORD_SQL, *args)
        node = (found["node_id"], found["name"], found["workflow_id"], found["workflow_version"])
        if found["node_id"] is None or (found["has_schema"] and not checked):
            return Row(*node)
        if found["accepted_id"] is not None:
            return Row(
                *node, found["accepted_id"], "accepted", False, found["wait_id"],
                found["outbox_id"],
            )  # fmt: skip
        if found["late_id"] is not None:
            return Row(*node, found["late_id"], "late")
        if found["prior_id"] is not None:
            return Row(*node, found["prior_id"], found["prior_status"], True)
    raise RuntimeError(f"event for {execution_id}:{node_id or name} neither recorded nor found")

"""Recording an external event as ONE PostgreSQL statement (autocommitted).

The same steps as `wait_events._statement_by_statement`, in one round trip instead of seven:
- `prior`: an earlier delivery with the same de-duplication key (a repeat);
- `w`: the node's latest wait, share-locked as the executor takes it exclusively while deciding
  it; read under the lock, its status is the one that holds;
- `acc`: the event `accepted` when on time; `ON CONFLICT DO NOTHING` lets a concurrent repeat
  or an event accepted first (the partial unique index) turn it away;
- `late`: otherwise the event recorded `late`;
- `staged`: the resume's outbox row for an accepted event: `ResumeExecution` of the open wait,
  or `EventArrived` when no open wait was visible. Bodies are the messages pydantic built,
  with the wait's id merged in.

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

RECORD_SQL = """
WITH prior AS MATERIALIZED (
    SELECT id, status FROM wait_events
    WHERE execution_id = $1 AND node_id = $3 AND dedup_key = $5
), w AS MATERIALIZED (
    SELECT id, status, expires_at FROM waits
    WHERE execution_id = $1 AND node_id = $3 AND kind = 'event'
    ORDER BY created_at DESC
    LIMIT 1
    FOR SHARE
), state AS MATERIALIZED (
    SELECT (SELECT id FROM w) AS wait_id,
           NOT EXISTS (SELECT 1 FROM prior)
           AND (SELECT status FROM executions WHERE id = $1)
               NOT IN ('completed', 'failed', 'cancelled')
           AND (NOT EXISTS (SELECT 1 FROM w)
                OR EXISTS (SELECT 1 FROM w WHERE status = 'open'
                           AND (expires_at IS NULL OR expires_at > $8))) AS on_time
), acc AS (
    INSERT INTO wait_events (workspace_id, execution_id, node_id, name, dedup_key, via,
                             status, payload, wait_id, received_at)
    SELECT $2, $1, $3, $4, $5, $6, 'accepted', $7::jsonb, s.wait_id, $8
    FROM state AS s WHERE s.on_time
    ON CONFLICT DO NOTHING
    RETURNING id, wait_id
), late AS (
    INSERT INTO wait_events (workspace_id, execution_id, node_id, name, dedup_key, via,
                             status, payload, wait_id, received_at)
    SELECT $2, $1, $3, $4, $5, $6, 'late', $7::jsonb, NULL, $8
    WHERE NOT EXISTS (SELECT 1 FROM prior) AND NOT EXISTS (SELECT 1 FROM acc)
    ON CONFLICT DO NOTHING
    RETURNING id
), staged AS (
    INSERT INTO outbox (queue, body, created_at)
    SELECT $9,
           (CASE WHEN acc.wait_id IS NULL THEN $11::jsonb
                 ELSE $10::jsonb || jsonb_build_object('wait_id', acc.wait_id) END)::json,
           $8
    FROM acc
    RETURNING id
)
SELECT (SELECT id FROM acc) AS accepted_id, (SELECT wait_id FROM acc) AS wait_id,
       (SELECT id FROM late) AS late_id, (SELECT id FROM prior) AS prior_id,
       (SELECT status FROM prior) AS prior_status, (SELECT id FROM staged) AS outbox_id
"""

#: A repeat in flight needs one more run; more than a few means something else is wrong.
MAX_RUNS = 5


@dataclass(frozen=True)
class Row:
    event_id: int
    #: accepted | late
    status: str
    repeat: bool
    #: The open wait the resume is for (None: `EventArrived`, or no resume).
    wait_id: uuid.UUID | None
    outbox_id: int | None


async def record_in_one_statement(
    engine: AsyncEngine,
    *,
    execution_id: uuid.UUID,
    workspace_id: uuid.UUID,
    node_id: str,
    name: str,
    dedup_key: str,
    via: str,
    payload: Any,
    at: datetime,
    queue: str,
    resume: dict[str, Any],
    arrived: dict[str, Any],
) -> Row:
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
    )
    for _ in range(MAX_RUNS):
        found = await driver.fetchrow(engine, RECORD_SQL, *args)
        if found["accepted_id"] is not None:
            return Row(
                found["accepted_id"], "accepted", False, found["wait_id"], found["outbox_id"]
            )
        if found["late_id"] is not None:
            return Row(found["late_id"], "late", False, None, None)
        if found["prior_id"] is not None:
            return Row(found["prior_id"], found["prior_status"], True, None, None)
    raise RuntimeError(f"event for {execution_id}:{node_id} neither recorded nor found")

"""Recording external events as ONE PostgreSQL statement (autocommitted) for every event that
requests deliver together: one round trip and one commit for the events that arrived while the
previous statement was on its way; a lone event goes at once (shared/group_commit.py).

The same steps as `wait_events._statement_by_statement`, in one round trip instead of eight,
for each delivery `k` of the JSON array `input`:
- `pin`, `node`: the execution (in the caller's workspace, for an API key) and the event node
  of its pinned workflow version, by id (a resume URL) or by event name. Looking them up was a
  round trip of its own before each event, a tenth of the resume latency;
- `go`: the node, when the delivery may be recorded: it has no schema, or the caller checked
  the payload against it (`checked`; the first run of a node with a schema records nothing and
  tells the caller which node and version to check against);
- `prior`: an earlier delivery with the same de-duplication key (a repeat);
- `latest`, `w`: the node's latest wait, share-locked as the executor takes it exclusively
  while deciding it (both in wait id order); read under the lock, its status is the one that
  holds;
- `acc`: the event `accepted` when on time; `ON CONFLICT DO NOTHING` lets a concurrent repeat
  or an event accepted first (the partial unique index; also one earlier in the same
  statement) turn it away;
- `late`: otherwise the event recorded `late`;
- `accepted`, `staged`: the resume's outbox row for an accepted event: `ResumeExecution` of
  the open wait, or `EventArrived` when no open wait was visible. Bodies are the messages
  pydantic built, with the wait's (or the node's) id merged in.

Both inserts take their rows in one order (execution, node, key), so two statements do not
wait on each other crosswise; rows are found through the deliveries' ids (`$2`), never by a
plan left to the statistics (docs/decisions/027). The statement commits without waiting for
the log's flush; the caller publishes the resume, then waits for the flush before it answers
(docs/decisions/032).

A repeat sent at once with the first delivery, into the same statement, is not sent twice: it
gets the first one's row, as a repeat. A repeat still in flight in another statement (its
insert waited for our key and found it taken, yet the statement's snapshot predates it) comes
back with nothing recorded and nothing found: the caller runs the statement again, which then
sees it.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import driver
from shared.db.commit_without_flush import COMMIT_WITHOUT_FLUSH
from shared.group_commit import GroupCommit
from shared.messages import EventArrived, Message, ResumeExecution

RECORD_SQL = f"""
WITH input AS MATERIALIZED (
    SELECT * FROM json_to_recordset($1::json) AS i(
        k int, execution_id uuid, workspace_id uuid, node_id text, name text, dedup_key text,
        via text, payload jsonb, at timestamptz, resume jsonb, arrived jsonb, checked boolean
    )
    WHERE {COMMIT_WITHOUT_FLUSH}
), pin AS MATERIALIZED (
    SELECT i.k, e.workspace_id, e.workflow_id, e.workflow_version, e.status
    FROM input AS i JOIN executions AS e ON e.id = i.execution_id
    WHERE e.id = ANY($2::uuid[])
      AND (i.workspace_id IS NULL OR e.workspace_id = i.workspace_id)
), node AS MATERIALIZED (
    SELECT DISTINCT ON (p.k) p.k, n ->> 'id' AS id, n -> 'config' ->> 'name' AS name,
           coalesce(n -> 'config' -> 'schema', n -> 'config' -> 'payload_schema',
                    'null'::jsonb) <> 'null'::jsonb AS has_schema
    FROM pin AS p
    JOIN input AS i ON i.k = p.k
    JOIN workflow_versions AS v
      ON v.workflow_id = p.workflow_id AND v.version = p.workflow_version,
    jsonb_array_elements(v.definition -> 'nodes') AS n
    WHERE n ->> 'type' = 'event' AND (n ->> 'id' = i.node_id OR n -> 'config' ->> 'name' = i.name)
    ORDER BY p.k, (n ->> 'position')::int
), go AS MATERIALIZED (
    -- The payload comes as {{"v": payload}}, so that a JSON null stays JSON null.
    SELECT n.k, n.id, n.name, p.workspace_id, i.execution_id, i.dedup_key, i.via,
           i.payload -> 'v' AS payload, i.at, i.resume, i.arrived,
           p.status NOT IN ('completed', 'failed', 'cancelled') AS unfinished
    FROM node AS n JOIN input AS i ON i.k = n.k JOIN pin AS p ON p.k = n.k
    WHERE NOT n.has_schema OR i.checked
), prior AS MATERIALIZED (
    SELECT g.k, v.id, v.status
    FROM go AS g
    JOIN wait_events AS v
      ON v.execution_id = g.execution_id AND v.node_id = g.id AND v.dedup_key = g.dedup_key
    WHERE v.execution_id = ANY($2::uuid[])
), latest AS MATERIALIZED (
    SELECT g.k, (
        SELECT w.id FROM waits AS w
        WHERE w.execution_id = g.execution_id AND w.node_id = g.id AND w.kind = 'event'
        ORDER BY w.created_at DESC
        LIMIT 1
    ) AS wait_id
    FROM go AS g
), w AS MATERIALIZED (
    SELECT id, status, expires_at FROM waits
    WHERE id = ANY(ARRAY(SELECT wait_id FROM latest WHERE wait_id IS NOT NULL))
    ORDER BY id
    FOR SHARE
), state AS MATERIALIZED (
    SELECT g.k, l.wait_id,
           g.unfinished
           AND NOT EXISTS (SELECT 1 FROM prior AS p WHERE p.k = g.k)
           AND (l.wait_id IS NULL
                OR EXISTS (SELECT 1 FROM w WHERE w.id = l.wait_id AND w.status = 'open'
                           AND (w.expires_at IS NULL OR w.expires_at > g.at))) AS on_time
    FROM go AS g JOIN latest AS l ON l.k = g.k
), acc AS (
    INSERT INTO wait_events (workspace_id, execution_id, node_id, name, dedup_key, via,
                             status, payload, wait_id, received_at)
    SELECT g.workspace_id, g.execution_id, g.id, g.name, g.dedup_key, g.via, 'accepted',
           g.payload, s.wait_id, g.at
    FROM state AS s JOIN go AS g ON g.k = s.k
    WHERE s.on_time
    ORDER BY g.execution_id, g.id, g.dedup_key
    ON CONFLICT DO NOTHING
    RETURNING id, execution_id, node_id, dedup_key, wait_id
), late AS (
    INSERT INTO wait_events (workspace_id, execution_id, node_id, name, dedup_key, via,
                             status, payload, wait_id, received_at)
    SELECT g.workspace_id, g.execution_id, g.id, g.name, g.dedup_key, g.via, 'late',
           g.payload, NULL, g.at
    FROM go AS g
    WHERE NOT EXISTS (SELECT 1 FROM prior AS p WHERE p.k = g.k)
      AND NOT EXISTS (SELECT 1 FROM acc AS a WHERE a.execution_id = g.execution_id
                      AND a.node_id = g.id AND a.dedup_key = g.dedup_key)
    ORDER BY g.execution_id, g.id, g.dedup_key
    ON CONFLICT DO NOTHING
    RETURNING id, execution_id, node_id, dedup_key
), accepted AS MATERIALIZED (
    -- The outbox row's id is taken here, so that each delivery knows its own.
    SELECT g.k, a.id, a.wait_id, g.at, nextval('outbox_id_seq') AS outbox_id,
           CASE WHEN a.wait_id IS NULL THEN g.arrived || jsonb_build_object('node_id', g.id)
                ELSE g.resume || jsonb_build_object('wait_id', a.wait_id) END AS body
    FROM acc AS a
    JOIN go AS g
      ON g.execution_id = a.execution_id AND g.id = a.node_id AND g.dedup_key = a.dedup_key
), staged AS (
    INSERT INTO outbox (id, queue, body, created_at)
    SELECT outbox_id, $3, body::json, at FROM accepted
)
SELECT i.k, p.workspace_id, p.workflow_id, p.workflow_version,
       n.id AS node_id, n.name, n.has_schema,
       a.id AS accepted_id, a.wait_id, a.outbox_id,
       l.id AS late_id, r.id AS prior_id, r.status AS prior_status
FROM input AS i
LEFT JOIN pin AS p ON p.k = i.k
LEFT JOIN node AS n ON n.k = i.k
LEFT JOIN go AS g ON g.k = i.k
LEFT JOIN accepted AS a ON a.k = i.k
LEFT JOIN late AS l
  ON l.execution_id = g.execution_id AND l.node_id = g.id AND l.dedup_key = g.dedup_key
LEFT JOIN prior AS r ON r.k = i.k
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


@dataclass(frozen=True)
class Ask:
    """One delivery to record: the event node with id `node_id` or named `name` of the
    execution (in `workspace_id`, when given), recorded unless that node has a schema and
    `checked` is false."""

    execution_id: uuid.UUID
    workspace_id: uuid.UUID | None
    node_id: str | None
    name: str | None
    dedup_key: str
    via: str
    payload: Any
    at: datetime
    checked: bool


class EventRecordings:
    """Records events as requests deliver them; those delivered together share one statement
    and its commit, each request answered from its own row."""

    def __init__(self, engine: AsyncEngine, *, queue: str) -> None:
        self._engine = engine
        self._queue = queue
        self._together: GroupCommit[Ask, tuple[Any, bool]] = GroupCommit(
            self._write, name="wait events"
        )

    @property
    def statements(self) -> int:
        """Statements sent so far (events recorded / this = the mean batch)."""
        return self._together.statements

    async def record(self, ask: Ask) -> Row:
        """The delivery recorded, or the row that says why not (see `Row`)."""
        for _ in range(MAX_RUNS):
            found, twin = await self._together.submit(ask)
            node = (
                found["node_id"],
                found["name"],
                found["workflow_id"],
                found["workflow_version"],
            )
            if found["node_id"] is None or (found["has_schema"] and not ask.checked):
                return Row(*node)
            if found["accepted_id"] is not None:
                return Row(
                    *node, found["accepted_id"], "accepted", twin, found["wait_id"],
                    None if twin else found["outbox_id"],
                )  # fmt: skip
            if found["late_id"] is not None:
                return Row(*node, found["late_id"], "late", twin)
            if found["prior_id"] is not None:
                return Row(*node, found["prior_id"], found["prior_status"], True)
        raise RuntimeError(
            f"event for {ask.execution_id}:{ask.node_id or ask.name} neither recorded nor found"
        )

    async def _write(self, asks: Sequence[Ask]) -> list[tuple[Any, bool]]:
        """Each ask's row, and whether it is a twin: the same delivery asked again in this
        batch (a repeat sent at once), which gets the row of the first and is a repeat."""
        first: dict[tuple[Any, ...], int] = {}
        for index, ask in enumerate(asks):
            first.setdefault(_same_delivery(ask), index)
        args = record_arguments({k: asks[k] for k in first.values()}, self._queue)
        rows = await driver.fetch(self._engine, RECORD_SQL, *args)
        by_k = {row["k"]: row for row in rows}
        found = []
        for index, ask in enumerate(asks):
            k = first[_same_delivery(ask)]
            found.append((by_k[k], k != index))
        return found


def _same_delivery(ask: Ask) -> tuple[Any, ...]:
    """What two asks share when one repeats the other (its payload and time aside)."""
    return ask.execution_id, ask.node_id, ask.name, ask.dedup_key, ask.checked


def record_arguments(asks: dict[int, Ask], queue: str) -> tuple[str, list[uuid.UUID], str]:
    """RECORD_SQL's parameters for `asks` by `k`, their resumes staged for `queue`."""
    execution_ids = list({ask.execution_id for ask in asks.values()})
    return driver.as_json([_object(k, ask) for k, ask in asks.items()]), execution_ids, queue


def resume_message(
    execution_id: uuid.UUID, node_id: str, wait_id: uuid.UUID | None, at: datetime
) -> Message:
    """What an accepted event stages: the resume of its open wait, or `EventArrived` when no
    open wait was visible."""
    if wait_id is None:
        return EventArrived(execution_id=execution_id, node_id=node_id, requested_at=at)
    return ResumeExecution(
        execution_id=execution_id, wait_id=wait_id, reason="event", requested_at=at
    )


def _object(k: int, ask: Ask) -> dict[str, Any]:
    # Both bodies without the wait's or the node's id: the statement, which finds the node,
    # merges it in.
    resume = resume_message(ask.execution_id, "", uuid.UUID(int=0), ask.at)
    arrived = resume_message(ask.execution_id, "", None, ask.at)
    return {
        "k": k,
        "execution_id": ask.execution_id,
        "workspace_id": ask.workspace_id,
        "node_id": ask.node_id,
        "name": ask.name,
        "dedup_key": ask.dedup_key,
        "via": ask.via,
        "payload": {"v": ask.payload},
        "at": ask.at,
        "resume": resume.model_dump(mode="json"),
        "arrived": arrived.model_dump(mode="json"),
        "checked": ask.checked,
    }

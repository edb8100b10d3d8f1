"""Recording an approver's decision as ONE PostgreSQL statement (autocommitted).

The same steps as `approval_decisions._record_once`, in one round trip instead of six (BEGIN,
two reads, the compare-and-set, the outbox insert, COMMIT): on this path round trips are most
of the gateway's cost. In order:

- `link`: the token's approver and wait, the wait's row share-locked (FOR SHARE OF w), as the
  executor takes it exclusively while deciding the wait: a decision is counted or late, never
  lost. Read under the lock, the wait's status is the one that holds.
- `won`: the compare-and-set `pending → approved|rejected`, only when no refusal applies; of
  concurrent requests for one approver the second waits for the first, re-checks
  `status = 'pending'` and matches nothing.
- `staged`: the resume's outbox row, unless the decision is late. Its body is the message
  pydantic built (`template`), with the two ids only the statement knows merged in.

The caller tells the outcomes apart from the returned row exactly as the general path does.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import driver

RECORD_SQL = """
WITH link AS MATERIALIZED (
    SELECT t.revoked_at, a.id, a.status, a.late, a.decided_at, a.wait_id, a.execution_id,
           w.status AS wait_status, w.expires_at
    FROM approval_tokens AS t
    JOIN approvals AS a ON a.id = t.approval_id
    JOIN waits AS w ON w.id = a.wait_id
    WHERE t.token_hash = $1
    FOR SHARE OF w
), won AS (
    UPDATE approvals AS a
    SET status = $2, late = (l.wait_status <> 'open'), comment = $3, decided_at = $4,
        client_ip = $5, user_agent = $6, next_reminder_at = NULL
    FROM link AS l
    WHERE a.id = l.id AND a.status = 'pending'
      AND l.status = 'pending' AND l.wait_status <> 'cancelled' AND l.revoked_at IS NULL
      AND (l.expires_at IS NULL OR l.expires_at > $4)
    RETURNING a.id, a.late
), staged AS (
    INSERT INTO outbox (queue, body, created_at)
    SELECT $7, (($8::text)::jsonb || jsonb_build_object(
               'execution_id', l.execution_id, 'wait_id', l.wait_id))::json, $4
    FROM won JOIN link AS l ON l.id = won.id
    WHERE NOT won.late
    RETURNING id
)
SELECT l.*, (SELECT id FROM won) AS won_id, (SELECT late FROM won) AS won_late,
       (SELECT id FROM staged) AS outbox_id
FROM link AS l
"""


@dataclass(frozen=True)
class Row:
    """The approver as read (before this statement's write) and what the statement did."""

    revoked_at: datetime | None
    status: str
    late: bool
    decided_at: datetime | None
    wait_id: uuid.UUID
    execution_id: uuid.UUID
    wait_status: str
    expires_at: datetime | None
    #: Set when this statement recorded the decision.
    won_late: bool | None
    #: The resume's outbox row, when it staged one.
    outbox_id: int | None


async def record_in_one_statement(
    engine: AsyncEngine,
    *,
    token_hash: str,
    decision: str,
    comment: str | None,
    decided_at: datetime,
    client_ip: str | None,
    user_agent: str | None,
    queue: str,
    template: dict[str, Any],
) -> Row | None:
    """None for an unknown token."""
    found = await driver.fetchrow(
        engine,
        RECORD_SQL,
        token_hash,
        decision,
        comment,
        decided_at,
        client_ip,
        user_agent,
        queue,
        json.dumps(template),
    )
    if found is None:
        return None
    return Row(
        revoked_at=found["revoked_at"],
        status=found["status"],
        late=found["late"],
        decided_at=found["decided_at"],
        wait_id=found["wait_id"],
        execution_id=found["execution_id"],
        wait_status=found["wait_status"],
        expires_at=found["expires_at"],
        won_late=found["won_late"] if found["won_id"] is not None else None,
        outbox_id=found["outbox_id"],
    )

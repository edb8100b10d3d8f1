"""Recording an approver's decision as ONE PostgreSQL statement (autocommitted).

The same steps as `approval_decisions._record_once`, in one round trip instead of six (BEGIN,
two reads, the compare-and-set, the outbox insert, COMMIT): on this path round trips are most
of the gateway's cost. In order:

- `link`: the approver (named by a link's token, or by e-mail on a gate for the decision API)
  and their wait, the wait's row locked (FOR NO KEY UPDATE OF w), as the executor takes it
  exclusively while deciding the wait: a decision is counted or late, never lost. Read under
  the lock, the wait's status is the one that holds. Not FOR SHARE: `marked` writes the row,
  and two deciders on one gate each holding a share lock would deadlock upgrading it; they
  take turns instead (one short statement each).
- `won`: the compare-and-set `pending → approved|rejected`, only when no refusal applies; of
  concurrent requests for one approver the second waits for the first, re-checks
  `status = 'pending'` and matches nothing.
- `marked`: the open gate's `last_decided_at`, moved to this decision, so the scheduler's
  stalled-gates pass finds the gate should its resume be lost (it reads only gates with one).
- `staged`: the resume's outbox row, unless the decision is late. Its body is the message
  pydantic built (`template`), with the two ids only the statement knows merged in.

The statement commits without waiting for the log's flush: the caller publishes the resume, then
waits for the flush before it answers (docs/decisions/032).

The caller tells the outcomes apart from the returned row exactly as the general path does.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import driver
from shared.db.commit_without_flush import COMMIT_WITHOUT_FLUSH

#: The approver an e-mailed link names ($9: the token's hash).
BY_TOKEN = f"""
    SELECT t.revoked_at, a.id, a.status, a.late, a.decided_at, a.wait_id, a.execution_id,
           w.status AS wait_status, w.expires_at
    FROM approval_tokens AS t
    JOIN approvals AS a ON a.id = t.approval_id
    JOIN waits AS w ON w.id = a.wait_id
    WHERE t.token_hash = $9 AND {COMMIT_WITHOUT_FLUSH}
    FOR NO KEY UPDATE OF w
"""

#: The approver the decision API names: by e-mail ($12), on the latest approval wait of node
#: $11 of execution $10, in workspace $9. A replaced approver gave way to their successor.
BY_APPROVER = f"""
    SELECT NULL::timestamptz AS revoked_at, a.id, a.status, a.late, a.decided_at, a.wait_id,
           a.execution_id, w.status AS wait_status, w.expires_at
    FROM approvals AS a
    JOIN waits AS w ON w.id = a.wait_id
    WHERE a.workspace_id = $9 AND a.execution_id = $10 AND lower(a.email) = lower($12)
      AND a.status <> 'replaced' AND {COMMIT_WITHOUT_FLUSH}
      AND a.wait_id = (
          SELECT id FROM waits
          WHERE execution_id = $10 AND node_id = $11 AND kind = 'approval'
          ORDER BY created_at DESC LIMIT 1
      )
    -- One address is on a gate once (the node and reassign refuse a second): one row.
    ORDER BY a.created_at DESC LIMIT 1
    FOR NO KEY UPDATE OF w
"""

RECORD_SQL = """
WITH link AS MATERIALIZED ({link}), won AS (
    UPDATE approvals AS a
    SET status = $1, late = (l.wait_status <> 'open'), comment = $2, decided_at = $3,
        client_ip = $4, user_agent = $5, next_reminder_at = NULL,
        decided_by_key = (SELECT k.id FROM api_keys AS k WHERE k.key_hash = $8::text)
    FROM link AS l
    WHERE a.id = l.id AND a.status = 'pending'
      AND l.status = 'pending' AND l.wait_status <> 'cancelled' AND l.revoked_at IS NULL
      AND (l.expires_at IS NULL OR l.expires_at > $3)
    RETURNING a.id, a.late
), marked AS (
    UPDATE waits AS w SET last_decided_at = GREATEST(w.last_decided_at, $3)
    FROM won JOIN link AS l ON l.id = won.id
    WHERE w.id = l.wait_id AND NOT won.late
    RETURNING w.id
), staged AS (
    INSERT INTO outbox (queue, body, created_at)
    SELECT $6, (($7::text)::jsonb || jsonb_build_object(
               'execution_id', l.execution_id, 'wait_id', l.wait_id))::json, $3
    FROM won JOIN link AS l ON l.id = won.id
    WHERE NOT won.late
    RETURNING id
)
SELECT l.*, (SELECT id FROM won) AS won_id, (SELECT late FROM won) AS won_late,
       (SELECT id FROM staged) AS outbox_id
FROM link AS l
"""

_STATEMENTS = {
    "token": RECORD_SQL.format(link=BY_TOKEN),
    "approver": RECORD_SQL.format(link=BY_APPROVER),
}


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
    link: Literal["token", "approver"],
    link_values: Sequence[Any],
    decision: str,
    comment: str | None,
    decided_at: datetime,
    client_ip: str | None,
    user_agent: str | None,
    queue: str,
    template: dict[str, Any],
    key_hash: str | None,
) -> Row | None:
    """None for an unknown token or approver. `link_values` fill the link's own parameters
    ($9 on): a token's hash, or workspace, execution, node and e-mail. `key_hash` names the
    API key deciding on the approver's behalf (None through a link)."""
    found = await driver.fetchrow(
        engine,
        _STATEMENTS[link],
        decision,
        comment,
        decided_at,
        client_ip,
        user_agent,
        queue,
        json.dumps(template),
        key_hash,
        *link_values,
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

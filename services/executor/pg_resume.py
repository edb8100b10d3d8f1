"""Deciding a wait and claiming its execution paused → running as ONE PostgreSQL statement.

The resume's transaction (claims.claim_resume) has read and locked the wait and settled it;
what is left — store the decision, compare-and-set the execution on its `version`, record the
transition, find the node's waiting step — is one round trip here instead of four. The
execution update runs only when the wait update matched (`EXISTS (SELECT 1 FROM decided)`),
and no row back means the compare-and-set failed: the caller rolls the transaction back.
SQLite takes the statement-by-statement path in claims.py.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

DECIDE_AND_CLAIM = text(
    """
WITH decided AS (
    UPDATE waits
    SET status = :wait_status, decision = :decision, decided_at = :now
    WHERE id = :wait_id AND status = 'open'
    RETURNING id
), claimed AS (
    UPDATE executions AS e
    SET status = 'running', version = e.version + 1,
        lease_owner = :owner, lease_expires_at = :lease_expires_at
    WHERE e.id = :execution_id AND e.version = :version AND e.status = 'paused'
      AND EXISTS (SELECT 1 FROM decided)
    RETURNING e.version
), moved AS (
    INSERT INTO execution_transitions (execution_id, from_status, to_status, reason, worker, at)
    SELECT :execution_id, 'paused', 'running', :reason, :owner, :at FROM claimed
)
SELECT c.version, s.id AS step_id, s.attempt AS step_attempt,
       (SELECT max(attempt) FROM execution_steps
        WHERE execution_id = :execution_id AND node_id = :node_id) AS last_attempt
FROM claimed AS c
LEFT JOIN LATERAL (
    SELECT id, attempt FROM execution_steps
    WHERE execution_id = :execution_id AND node_id = :node_id AND status = 'waiting'
    ORDER BY attempt DESC
    LIMIT 1
) AS s ON true
"""
).bindparams(bindparam("decision", type_=JSONB))


@dataclass(frozen=True)
class Moved:
    version: int
    #: The node's `waiting` step (its attempt is completed on resume), if it has one.
    step_id: int | None
    step_attempt: int | None
    #: The node's latest attempt number (a retry wait runs the node as the next attempt).
    last_attempt: int | None


async def decide_and_claim(
    conn: AsyncConnection,
    *,
    execution_id: uuid.UUID,
    wait_id: uuid.UUID,
    node_id: str,
    version: int,
    wait_status: str,
    decision: dict[str, Any],
    owner: str,
    lease_seconds: float,
    reason: str,
    now: datetime,
    at: datetime,
) -> Moved | None:
    """None when the wait was no longer open or the execution moved on (roll back)."""
    row = (
        await conn.execute(
            DECIDE_AND_CLAIM,
            {
                "wait_status": wait_status,
                "decision": decision,
                "now": now,
                "wait_id": wait_id,
                "owner": owner,
                "lease_expires_at": now + timedelta(seconds=lease_seconds),
                "execution_id": execution_id,
                "version": version,
                "reason": reason,
                "at": at,
                "node_id": node_id,
            },
        )
    ).first()
    if row is None:
        return None
    return Moved(row.version, row.step_id, row.step_attempt, row.last_attempt)

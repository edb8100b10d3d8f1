"""RESUME: decide a wait and move its execution paused → running, both or neither.

Settling a wait is its node type's rule, Python the state machine does not know, so a resume
is two steps inside one transaction, in the caller's hands:

    async with resuming(engine, execution_id, wait_id) as resume:
        if resume is None: ...                      # nothing to resume
        decision = await rule(resume.conn, resume.node_id, resume.wait)
        claimed = await resume.decide(decision, wait_status=..., owner=..., lease_seconds=...)

`resuming` reads the execution with the wait and locks the wait's row; `decide` stores the
decision and claims the run (None: it moved on, and the transaction is rolled back).
Leaving the block without deciding writes nothing. A second resume of the same wait finds it
decided and does nothing: exactly once.

Round trips on PostgreSQL: BEGIN, one read, what the rule reads, one write (DECIDE_AND_CLAIM
below: store the decision, compare-and-set the execution, log the move, find the node's
waiting step), COMMIT. SQLite takes the statement-by-statement twin, `_decide_portable`.
`event` waits on PostgreSQL skip all of this: event_resume_pg.py settles them in SQL.
"""

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.tables import Execution, Wait
from shared.db.types import utcnow
from shared.state_machine.claim import (
    claimed_from,
    lease_values,
    next_attempt,
    waiting_step,
)
from shared.state_machine.claimed import Claimed
from shared.state_machine.moves import RESUME
from shared.state_machine.outputs import outputs_column
from shared.state_machine.transitions import record_transition, transition_sql
from shared.state_machine.waits import WaitRecord
from shared.status import ExecutionStatus as S
from shared.status import WaitStatus

DECIDE_AND_CLAIM = text(
    f"""
WITH decided AS (
    UPDATE waits
    SET status = :wait_status, decision = :decision, decided_at = :now
    WHERE id = :wait_id AND status = 'open'
    RETURNING id
), claimed AS (
    UPDATE executions AS e
    SET status = 'running', version = e.version + 1,
        lease_owner = :owner, lease_expires_at = :lease_expires_at
    WHERE e.id = :execution_id AND e.version = :version AND {RESUME.sql_guard()}
      AND EXISTS (SELECT 1 FROM decided)
    RETURNING e.version
), moved AS (
    {transition_sql("SELECT :execution_id, 'paused', 'running', :reason, :owner, :at FROM claimed")}
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
class _Moved:
    version: int
    #: The node's `waiting` step (its attempt is completed on resume), if it has one.
    step_id: int | None
    step_attempt: int | None
    #: The node's latest attempt number (a retry wait runs the node as the next attempt).
    last_attempt: int | None


@dataclass(frozen=True)
class Resume:
    """An open wait read with its paused execution, the wait's row locked."""

    conn: AsyncConnection
    #: The execution with the wait's columns (`wait_node_id`, `kind`, `rule`, …).
    row: Row[Any]
    wait: WaitRecord

    @property
    def node_id(self) -> str:
        return str(self.row.wait_node_id)

    @property
    def workflow_id(self) -> uuid.UUID:
        return self.row.workflow_id  # type: ignore[no-any-return]

    @property
    def workflow_version(self) -> int:
        return int(self.row.workflow_version)

    async def decide(
        self,
        decision: dict[str, Any],
        *,
        wait_status: str = "decided",
        owner: str,
        lease_seconds: float,
    ) -> Claimed | None:
        """Store `decision` (the wait's status becomes `wait_status`: `decided`, or `expired`
        for a deadline the run fails on) and claim the run; None when it moved on."""
        now = utcnow()
        decide = _decide_pg if self.conn.dialect.name == "postgresql" else _decide_portable
        moved = await decide(
            self.conn,
            self.row,
            self.wait.id,
            decision,
            wait_status=wait_status,
            owner=owner,
            lease_seconds=lease_seconds,
            now=now,
        )
        if moved is None:
            # Nothing of this resume may stay: the wait's decision goes with the failed claim.
            await self.conn.rollback()
            return None
        if self.wait.kind == "retry":
            return claimed_from(
                self.row, moved.version, self.node_id, attempt=(moved.last_attempt or 0) + 1
            )
        step: dict[str, Any] = {}
        if moved.step_id is not None and moved.step_attempt is not None:
            step = {"open_step_id": moved.step_id, "attempt": moved.step_attempt}
        wait = dataclasses.replace(self.wait, decision=decision)
        return claimed_from(self.row, moved.version, self.node_id, wait=wait, **step)


@contextlib.asynccontextmanager
async def resuming(
    engine: AsyncEngine, execution_id: uuid.UUID, wait_id: uuid.UUID
) -> AsyncIterator[Resume | None]:
    """The wait to decide, or None when there is none: it is no longer open, or its execution
    is not paused at the wait's node. The transaction commits when the block ends."""
    async with engine.begin() as conn:
        row = await _load_for_resume(conn, execution_id, wait_id)
        if row is None or row.wait_status != WaitStatus.OPEN:
            yield None
            return
        if row.status not in RESUME.sources or row.current_node_id != row.wait_node_id:
            yield None
            return
        wait = WaitRecord(
            id=wait_id,
            kind=row.kind,
            rule=row.rule or {},
            facts=row.facts or {},
            decision=None,
            expires_at=row.expires_at,
        )
        yield Resume(conn, row, wait)


Rule = Callable[[AsyncConnection, str, WaitRecord], Awaitable[dict[str, Any] | None]]


async def claim_resume(
    engine: AsyncEngine,
    execution_id: uuid.UUID,
    wait_id: uuid.UUID,
    *,
    owner: str,
    lease_seconds: float,
    settle: Rule,
    wait_status: str = "decided",
) -> Claimed | None:
    """A resume whose rule needs nothing of the workflow: `settle(conn, node_id, wait)`
    decides (None keeps the wait open)."""
    async with resuming(engine, execution_id, wait_id) as resume:
        if resume is None:
            return None
        decision = await settle(resume.conn, resume.node_id, resume.wait)
        if decision is None:
            return None
        return await resume.decide(
            decision, wait_status=wait_status, owner=owner, lease_seconds=lease_seconds
        )


async def _load_for_resume(
    conn: AsyncConnection, execution_id: uuid.UUID, wait_id: uuid.UUID
) -> Row[Any] | None:
    """The execution with the wait, in one read; the wait's row locked until the transaction
    ends. The gateway locks it too while recording a decision (a share lock for an event,
    FOR NO KEY UPDATE for an approver, whose decision also writes the gate's
    `last_decided_at`), so a decision is committed before the rule reads the facts (and
    counted) or sees the wait decided (and is recorded as late): never lost."""
    return (
        await conn.execute(
            select(
                Execution.__table__,
                Wait.node_id.label("wait_node_id"),
                Wait.kind,
                Wait.rule,
                Wait.facts,
                Wait.status.label("wait_status"),
                Wait.expires_at,
                outputs_column(conn.dialect.name),
            )
            .join(Wait, Wait.execution_id == Execution.id)
            .where(Execution.id == execution_id, Wait.id == wait_id)
            .with_for_update(of=Wait.__table__)
        )
    ).first()


async def _decide_pg(
    conn: AsyncConnection,
    row: Row[Any],
    wait_id: uuid.UUID,
    decision: dict[str, Any],
    *,
    wait_status: str,
    owner: str,
    lease_seconds: float,
    now: datetime,
) -> _Moved | None:
    found = (
        await conn.execute(
            DECIDE_AND_CLAIM,
            {
                "wait_status": wait_status,
                "decision": decision,
                "now": now,
                "wait_id": wait_id,
                "owner": owner,
                "lease_expires_at": now + timedelta(seconds=lease_seconds),
                "execution_id": row.id,
                "version": row.version,
                "reason": f"{row.kind} wait decided",
                "at": utcnow(),
                "node_id": row.wait_node_id,
            },
        )
    ).first()
    if found is None:
        return None
    return _Moved(found.version, found.step_id, found.step_attempt, found.last_attempt)


async def _decide_portable(
    conn: AsyncConnection,
    row: Row[Any],
    wait_id: uuid.UUID,
    decision: dict[str, Any],
    *,
    wait_status: str,
    owner: str,
    lease_seconds: float,
    now: datetime,
) -> _Moved | None:
    decided = await conn.execute(
        update(Wait)
        .where(Wait.id == wait_id, Wait.status == WaitStatus.OPEN)
        .values(status=wait_status, decision=decision, decided_at=now)
    )
    if decided.rowcount != 1:
        return None
    version = await conn.scalar(
        update(Execution)
        .where(Execution.id == row.id, Execution.version == row.version, RESUME.guard())
        .values(**lease_values(owner, lease_seconds, now))
        .returning(Execution.version)
    )
    if version is None:
        return None
    await record_transition(conn, row.id, S.PAUSED, S.RUNNING, f"{row.kind} wait decided", owner)
    step = await waiting_step(conn, row.id, row.wait_node_id)
    last = await next_attempt(conn, row.id, row.wait_node_id) - 1
    return _Moved(
        version=version,
        step_id=step.id if step is not None else None,
        step_attempt=step.attempt if step is not None else None,
        last_attempt=last,
    )

"""Recording an approver's decision: one compare-and-set, and the resume staged with it.

The gateway records the fact and stages `ResumeExecution(reason="fact")` in the same
transaction; the executor applies the rule. Of many concurrent POSTs on one approver, the
compare-and-set `pending → approved|rejected` lets exactly one through.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.approval_gates import GateView, load_gate
from shared.approval_links import token_hash
from shared.broker.topology import RESUME
from shared.db.errors import retrying
from shared.db.tables import Approval, ApprovalToken, Wait
from shared.messages import ResumeExecution
from shared.outbox import Staged, stage

MAX_COMMENT_CHARS = 2000
MAX_USER_AGENT_CHARS = 500


class Refusal(enum.Enum):
    #: No such link (mistyped, or never issued).
    UNKNOWN = "unknown"
    #: A newer link was sent (`resend`); this one was revoked.
    REPLACED = "replaced"
    #: This approver already decided.
    USED = "used"
    #: The gate's deadline passed.
    EXPIRED = "expired"
    #: The approver was replaced, or the execution was cancelled.
    CLOSED = "closed"
    #: Another request decided for this approver between our read and our write.
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Found:
    gate: GateView
    refusal: Refusal | None


@dataclass(frozen=True)
class Recorded:
    decision: str
    late: bool
    staged: Staged | None


async def find(
    sessions: async_sessionmaker[AsyncSession], token: str, now: datetime
) -> Found | None:
    """The gate a link points to and whether it could still decide; None for an unknown link.

    Reads only: a page view (GET, HEAD, a mail scanner) never changes anything. Raises
    `DatabaseUnavailable` when the database cannot be reached even after a few tries.
    """
    return await retrying(lambda: _find_once(sessions, token, now), what="approval page")


async def _find_once(
    sessions: async_sessionmaker[AsyncSession], token: str, now: datetime
) -> Found | None:
    async with sessions() as session:
        link = (
            await session.execute(
                select(ApprovalToken.approval_id, ApprovalToken.revoked_at).where(
                    ApprovalToken.token_hash == token_hash(token)
                )
            )
        ).first()
        if link is None:
            return None
        gate = await load_gate(session, link.approval_id)
    if gate is None:
        return None
    return Found(gate, _refusal(gate, link.revoked_at, now))


def _refusal(gate: GateView, revoked_at: datetime | None, now: datetime) -> Refusal | None:
    """The same checks, in the same order, as `record` makes under its lock."""
    if gate.status in ("approved", "rejected"):
        return Refusal.USED
    if gate.status != "pending" or gate.wait_status == "cancelled":
        return Refusal.CLOSED
    if revoked_at is not None:
        return Refusal.REPLACED
    if gate.expired(now):
        return Refusal.EXPIRED
    return None


async def record(
    sessions: async_sessionmaker[AsyncSession],
    token: str,
    *,
    decision: str,
    comment: str | None,
    client_ip: str | None,
    user_agent: str | None,
    now: datetime,
) -> Recorded | Refusal:
    """Record one decision; tried again while the database refuses or drops the connection
    (an overloaded server, a burst beyond the pool), then `DatabaseUnavailable`.

    Repeating is safe: a try that failed before its commit changed nothing, and one whose
    commit went through but whose answer was lost is recognised by its `decided_at` (this
    request's `now`) and answered as recorded; its resume waits in the outbox for the relay.
    """
    assert decision in ("approved", "rejected")

    async def attempt() -> Recorded | Refusal:
        return await _record_once(
            sessions,
            token,
            decision=decision,
            comment=comment,
            client_ip=client_ip,
            user_agent=user_agent,
            now=now,
        )

    return await retrying(attempt, what="approval decision")


async def _record_once(
    sessions: async_sessionmaker[AsyncSession],
    token: str,
    *,
    decision: str,
    comment: str | None,
    client_ip: str | None,
    user_agent: str | None,
    now: datetime,
) -> Recorded | Refusal:
    async with sessions.begin() as session:
        link = (
            await session.execute(
                select(
                    ApprovalToken.revoked_at,
                    Approval.id,
                    Approval.status,
                    Approval.late,
                    Approval.decided_at,
                    Approval.wait_id,
                    Approval.execution_id,
                )
                .join(Approval, Approval.id == ApprovalToken.approval_id)
                .where(ApprovalToken.token_hash == token_hash(token))
            )
        ).first()
        if link is None:
            return Refusal.UNKNOWN
        # Shared with other deciders, exclusive against the executor deciding the wait (see
        # claims.claim_resume): a decision is counted, or it is late, never in between.
        wait = (
            await session.execute(
                select(Wait.status, Wait.expires_at)
                .where(Wait.id == link.wait_id)
                .with_for_update(read=True)
            )
        ).one()
        expires_at = wait.expires_at
        if link.status == decision and link.decided_at == now:
            # Our own earlier try committed; only its answer was lost.
            return Recorded(decision, link.late, None)
        if link.status in ("approved", "rejected"):
            return Refusal.USED
        if link.status != "pending" or wait.status == "cancelled":
            return Refusal.CLOSED
        if link.revoked_at is not None:
            return Refusal.REPLACED
        if expires_at is not None and expires_at <= now:
            return Refusal.EXPIRED
        late = wait.status != "open"
        won = await session.scalar(
            update(Approval)
            .where(Approval.id == link.id, Approval.status == "pending")
            .values(
                status=decision,
                late=late,
                comment=(comment or None) and comment[:MAX_COMMENT_CHARS],
                decided_at=now,
                client_ip=client_ip,
                user_agent=(user_agent or None) and user_agent[:MAX_USER_AGENT_CHARS],
                next_reminder_at=None,
            )
            .returning(Approval.id)
        )
        if won is None:
            return Refusal.CONFLICT
        staged = None
        if not late:
            message = ResumeExecution(
                execution_id=link.execution_id,
                wait_id=link.wait_id,
                reason="fact",
                requested_at=now,
            )
            staged = await stage(session, RESUME, message)
    return Recorded(decision, late, staged)

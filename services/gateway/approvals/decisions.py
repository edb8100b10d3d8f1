"""Recording an approver's decision: one compare-and-set, and the resume staged with it.

Two ways name the approver, one way records: the e-mailed link (`ByLink`, the approver
themselves) and the decision API (`ByApprover`, an API key on the approver's behalf, which the
row names in `decided_by_key`).

The gateway records the fact and stages `ResumeExecution(reason="approval")` in the same
transaction; the executor applies the rule (on PostgreSQL in one statement:
shared/state_machine/approval_resume_pg.py). Of many concurrent POSTs on one approver, the
compare-and-set `pending → approved|rejected` lets exactly one through.
"""

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.gateway.approvals.decision_sql import record_in_one_statement
from shared.approval_gates import GateView, load_gate
from shared.approval_links import token_hash
from shared.broker.topology import RESUME
from shared.db.errors import retrying
from shared.db.tables import ApiKey, Approval, ApprovalToken, Wait
from shared.messages import ResumeExecution
from shared.outbox import Staged, stage
from shared.status import ApprovalStatus

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
class ByLink:
    """The approver an e-mailed link's token names."""

    token: str


@dataclass(frozen=True)
class ByApprover:
    """The approver named by e-mail on the latest approval gate of `node_id`, as the decision
    API names them; `key_hash` is the API key deciding on their behalf."""

    workspace_id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    email: str
    key_hash: str


Who = ByLink | ByApprover


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
    if gate.status == ApprovalStatus.EXPIRED:
        return Refusal.EXPIRED
    if gate.status != "pending" or gate.wait_status == "cancelled":
        return Refusal.CLOSED
    if revoked_at is not None:
        return Refusal.REPLACED
    if gate.expired(now):
        return Refusal.EXPIRED
    return None


@dataclass(frozen=True)
class _Decision:
    status: str
    comment: str | None
    client_ip: str | None
    user_agent: str | None
    at: datetime


async def record(
    sessions: async_sessionmaker[AsyncSession],
    who: Who,
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
    values = _Decision(
        status=decision,
        comment=(comment or None) and comment[:MAX_COMMENT_CHARS],
        client_ip=client_ip,
        user_agent=(user_agent or None) and user_agent[:MAX_USER_AGENT_CHARS],
        at=now,
    )
    return await retrying(lambda: _record_once(sessions, who, values), what="approval decision")


async def _record_once(
    sessions: async_sessionmaker[AsyncSession], who: Who, values: _Decision
) -> Recorded | Refusal:
    engine = sessions.kw["bind"]  # the engine the session factory was built on
    if isinstance(engine, AsyncEngine) and engine.dialect.driver == "asyncpg":
        return await _in_one_statement(engine, who, values)
    return await _statement_by_statement(sessions, who, values)


def _settled(
    values: _Decision,
    *,
    status: str,
    late: bool,
    decided_at: datetime | None,
    wait_status: str,
    revoked_at: datetime | None,
    expires_at: datetime | None,
) -> Recorded | Refusal | None:
    """Why the approver's row as read does not take this decision; None when it may."""
    if status == values.status and decided_at == values.at:
        # Our own earlier try committed; only its answer was lost.
        return Recorded(values.status, late, None)
    if status in ("approved", "rejected"):
        return Refusal.USED
    if status == ApprovalStatus.EXPIRED:
        return Refusal.EXPIRED
    if status != "pending" or wait_status == "cancelled":
        return Refusal.CLOSED
    if revoked_at is not None:
        return Refusal.REPLACED
    if expires_at is not None and expires_at <= values.at:
        return Refusal.EXPIRED
    return None


def _resume(execution_id: uuid.UUID, wait_id: uuid.UUID, at: datetime) -> ResumeExecution:
    return ResumeExecution(
        execution_id=execution_id, wait_id=wait_id, reason="approval", requested_at=at
    )


async def _in_one_statement(engine: AsyncEngine, who: Who, values: _Decision) -> Recorded | Refusal:
    nil = uuid.UUID(int=0)
    link: Literal["token", "approver"]
    link_values: list[object]
    if isinstance(who, ByLink):
        link, link_values, key = "token", [token_hash(who.token)], None
    else:
        link = "approver"
        link_values = [who.workspace_id, who.execution_id, who.node_id, who.email]
        key = who.key_hash
    row = await record_in_one_statement(
        engine,
        link=link,
        link_values=link_values,
        key_hash=key,
        decision=values.status,
        comment=values.comment,
        decided_at=values.at,
        client_ip=values.client_ip,
        user_agent=values.user_agent,
        queue=RESUME,
        template=_resume(nil, nil, values.at).model_dump(mode="json"),
    )
    if row is None:
        return Refusal.UNKNOWN
    if row.won_late is not None:
        staged = None
        if row.outbox_id is not None:
            message = _resume(row.execution_id, row.wait_id, values.at)
            staged = Staged(row.outbox_id, RESUME, message)
        return Recorded(values.status, row.won_late, staged)
    settled = _settled(
        values,
        status=row.status,
        late=row.late,
        decided_at=row.decided_at,
        wait_status=row.wait_status,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
    )
    # Every check passed, yet the compare-and-set matched nothing: another request won.
    return Refusal.CONFLICT if settled is None else settled


def _link_query(who: Who) -> Select[*tuple[Any, ...]]:
    columns = (
        Approval.id,
        Approval.status,
        Approval.late,
        Approval.decided_at,
        Approval.wait_id,
        Approval.execution_id,
    )
    if isinstance(who, ByLink):
        return (
            select(ApprovalToken.revoked_at, *columns)
            .join(Approval, Approval.id == ApprovalToken.approval_id)
            .where(ApprovalToken.token_hash == token_hash(who.token))
        )
    latest_gate = (
        select(Wait.id)
        .where(
            Wait.execution_id == who.execution_id,
            Wait.node_id == who.node_id,
            Wait.kind == "approval",
        )
        .order_by(Wait.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return select(null().label("revoked_at"), *columns).where(
        Approval.workspace_id == who.workspace_id,
        Approval.execution_id == who.execution_id,
        func.lower(Approval.email) == who.email.lower(),
        Approval.status != ApprovalStatus.REPLACED,
        Approval.wait_id == latest_gate,
    )


async def _statement_by_statement(
    sessions: async_sessionmaker[AsyncSession], who: Who, values: _Decision
) -> Recorded | Refusal:
    async with sessions.begin() as session:
        link = (await session.execute(_link_query(who))).first()
        key = None
        if isinstance(who, ByApprover):
            key = await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == who.key_hash))
        if link is None:
            return Refusal.UNKNOWN
        # Exclusive against the executor deciding the wait (see claims.claim_resume): a
        # decision is counted, or it is late, never in between. Not a share lock: the gate's
        # row is written below (`last_decided_at`), and two deciders each holding one would
        # deadlock upgrading it. FOR NO KEY UPDATE still lets approvers' foreign keys in.
        wait = (
            await session.execute(
                select(Wait.status, Wait.expires_at)
                .where(Wait.id == link.wait_id)
                .with_for_update(key_share=True)
            )
        ).one()
        settled = _settled(
            values,
            status=link.status,
            late=link.late,
            decided_at=link.decided_at,
            wait_status=wait.status,
            revoked_at=link.revoked_at,
            expires_at=wait.expires_at,
        )
        if settled is not None:
            return settled
        late = wait.status != "open"
        won = await session.scalar(
            update(Approval)
            .where(Approval.id == link.id, Approval.status == ApprovalStatus.PENDING)
            .values(
                status=values.status,
                late=late,
                comment=values.comment,
                decided_at=values.at,
                client_ip=values.client_ip,
                user_agent=values.user_agent,
                next_reminder_at=None,
                decided_by_key=key,
            )
            .returning(Approval.id)
        )
        if won is None:
            return Refusal.CONFLICT
        staged = None
        if not late:
            await mark_decided_on(session, link.wait_id, values.at)
            message = _resume(link.execution_id, link.wait_id, values.at)
            staged = await stage(session, RESUME, message)
    return Recorded(values.status, late, staged)


async def mark_decided_on(session: AsyncSession, wait_id: uuid.UUID, at: datetime) -> None:
    """Move the open gate's `last_decided_at` to `at` (never back): the scheduler's
    stalled-gates pass reads only gates with one, and resumes them should this decision's
    resume be lost. The PostgreSQL statement does the same (decision_sql, `marked`)."""
    await session.execute(
        update(Wait)
        .where(
            Wait.id == wait_id,
            or_(Wait.last_decided_at.is_(None), Wait.last_decided_at < at),
        )
        .values(last_decided_at=at)
    )

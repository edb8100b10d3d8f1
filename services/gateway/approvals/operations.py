"""Operating open gates over the API: list who is pending, extend, resend, reassign.

Each is one transaction that locks the gate's wait row, so it cannot interleave with the
executor deciding that wait; e-mails are staged in the outbox with the change.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.approval_links import mail_key
from shared.broker.topology import EMAIL
from shared.db.tables import Approval, ApprovalToken, Execution, Wait
from shared.errors import DocflowError, NotFound
from shared.messages import ApprovalEmail
from shared.outbox import Staged, stage
from shared.status import ApprovalStatus, WaitStatus

Sessions = async_sessionmaker[AsyncSession]


class GateClosed(DocflowError):
    """The gate is not open any more (decided, expired or cancelled): 409."""


class ApproverConflict(DocflowError):
    """The approver named is not pending on this gate, or is already on it: 409."""


@dataclass(frozen=True)
class GateState:
    wait: Wait
    approvers: list[Approval]


async def list_approvals(
    sessions: Sessions, workspace_id: uuid.UUID, *, status: str, limit: int
) -> list[tuple[Approval, Wait, uuid.UUID]]:
    """Approvers by status, oldest first; `pending` means pending on a gate still open."""
    query = (
        select(Approval, Wait, Execution.workflow_id)
        .join(Wait, Wait.id == Approval.wait_id)
        .join(Execution, Execution.id == Approval.execution_id)
        .where(Approval.workspace_id == workspace_id, Approval.status == status)
        .order_by(Approval.created_at, Approval.position)
        .limit(limit)
    )
    if status == "pending":
        query = query.where(Wait.status == WaitStatus.OPEN)
    async with sessions() as session:
        return [(a, w, wf) for a, w, wf in (await session.execute(query)).all()]


async def _open_gate(
    session: AsyncSession, workspace_id: uuid.UUID, execution_id: uuid.UUID, node_id: str
) -> Wait:
    owned = await session.scalar(
        select(Execution.id).where(
            Execution.id == execution_id, Execution.workspace_id == workspace_id
        )
    )
    if owned is None:
        raise NotFound("execution", execution_id)
    wait = await session.scalar(
        select(Wait)
        .where(Wait.execution_id == execution_id, Wait.node_id == node_id, Wait.kind == "approval")
        .order_by(Wait.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if wait is None:
        raise NotFound("approval gate", node_id)
    if wait.status != "open":
        raise GateClosed(f"approval gate {node_id!r} is {wait.status}; it can no longer change")
    return wait


async def _state(session: AsyncSession, wait: Wait) -> GateState:
    approvers = (
        await session.scalars(
            select(Approval)
            .where(Approval.wait_id == wait.id)
            .order_by(Approval.position, Approval.created_at)
        )
    ).all()
    return GateState(wait, list(approvers))


async def extend(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    execution_id: uuid.UUID,
    node_id: str,
    expires_at: datetime,
) -> GateState:
    """Move the deadline; a fired-but-undecided expiry is re-armed for the new one (the
    executor re-reads the deadline under the wait's lock before timing out)."""
    async with sessions.begin() as session:
        wait = await _open_gate(session, workspace_id, execution_id, node_id)
        await session.execute(
            update(Wait).where(Wait.id == wait.id).values(expires_at=expires_at, fired_at=None)
        )
        await session.refresh(wait)
        return await _state(session, wait)


async def resend(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    execution_id: uuid.UUID,
    node_id: str,
    *,
    emails: list[str] | None,
    now: datetime,
) -> tuple[GateState, list[Staged]]:
    """New links to pending approvers (all, or those named); their old links die now."""
    async with sessions.begin() as session:
        wait = await _open_gate(session, workspace_id, execution_id, node_id)
        state = await _state(session, wait)
        pending = [a for a in state.approvers if a.status == "pending"]
        if emails is not None:
            wanted = {e.lower() for e in emails}
            missing = wanted - {a.email.lower() for a in pending}
            if missing:
                raise ApproverConflict(f"not pending on this gate: {', '.join(sorted(missing))}")
            pending = [a for a in pending if a.email.lower() in wanted]
        ids = [a.id for a in pending]
        await session.execute(
            update(ApprovalToken)
            .where(ApprovalToken.approval_id.in_(ids), ApprovalToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        staged = []
        for approval in pending:
            key = mail_key(execution_id, node_id, approval.id, f"resend:{uuid.uuid4().hex}")
            message = ApprovalEmail(approval_id=approval.id, purpose="resend", idempotency_key=key)
            staged.append(await stage(session, EMAIL, message))
        return state, staged


async def reassign(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    execution_id: uuid.UUID,
    node_id: str,
    *,
    from_email: str,
    to_email: str,
    to_name: str | None,
    now: datetime,
) -> tuple[GateState, Staged]:
    """Replace one pending approver: their links die, the new one is asked in their place."""
    async with sessions.begin() as session:
        wait = await _open_gate(session, workspace_id, execution_id, node_id)
        state = await _state(session, wait)
        current = {a.email.lower(): a for a in state.approvers if a.status != "replaced"}
        old = current.get(from_email.lower())
        if old is None or old.status != "pending":
            raise ApproverConflict(f"{from_email} is not a pending approver of this gate")
        if to_email.lower() in current:
            raise ApproverConflict(f"{to_email} is already an approver of this gate")
        new_id = uuid.uuid4()
        every = (wait.rule or {}).get("reminder_every_seconds")
        await session.execute(
            insert(Approval).values(
                id=new_id,
                wait_id=wait.id,
                execution_id=execution_id,
                workspace_id=workspace_id,
                node_id=node_id,
                position=old.position,
                email=to_email,
                name=to_name,
                status=ApprovalStatus.PENDING,
                late=False,
                created_at=now,
                notified_at=now,
                reminders_sent=0,
                next_reminder_at=now + timedelta(seconds=every) if every else None,
            )
        )
        await session.execute(
            update(Approval)
            .where(Approval.id == old.id, Approval.status == ApprovalStatus.PENDING)
            .values(
                status=ApprovalStatus.REPLACED,
                replaced_by=new_id,
                decided_at=now,
                next_reminder_at=None,
            )
        )
        await session.execute(
            update(ApprovalToken)
            .where(ApprovalToken.approval_id == old.id, ApprovalToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        key = mail_key(execution_id, node_id, new_id, "request")
        staged = await stage(
            session,
            EMAIL,
            ApprovalEmail(approval_id=new_id, purpose="request", idempotency_key=key),
        )
        for approval in state.approvers:
            await session.refresh(approval)
        return await _state(session, wait), staged


def gate_view(state: GateState) -> dict[str, Any]:
    wait = state.wait
    rule = wait.rule or {}
    return {
        "execution_id": str(wait.execution_id),
        "node_id": wait.node_id,
        "wait_id": str(wait.id),
        "status": wait.status,
        "strategy": rule.get("strategy"),
        "required": rule.get("required"),
        "expires_at": wait.expires_at.isoformat() if wait.expires_at else None,
        "approvers": [approver_view(a) for a in state.approvers],
    }


def approver_view(approval: Approval) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(approval.id),
        "email": approval.email,
        "name": approval.name,
        "status": approval.status,
        "late": approval.late,
        "comment": approval.comment,
        "decided_at": iso(approval.decided_at),
        "client_ip": approval.client_ip,
        "user_agent": approval.user_agent,
        "decided_by_key": str(approval.decided_by_key) if approval.decided_by_key else None,
        "notified_at": iso(approval.notified_at),
        "reminders_sent": approval.reminders_sent,
    }

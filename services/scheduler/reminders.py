"""Duty: remind approvers still pending on an open gate, no more often than the gate says.

Each reminder is a compare-and-set on the approver's `next_reminder_at` in the transaction that
stages the e-mail, with the rows locked SKIP LOCKED: two schedulers never remind the same
approver twice for one due time, and a crash after the commit still sends it (the outbox).
"""

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Select, or_, select, update

from shared.approval_links import mail_key
from shared.broker.topology import EMAIL
from shared.db.tables import Approval, Wait
from shared.db.types import utcnow
from shared.messages import ApprovalEmail
from shared.outbox import Staged, publish_staged, stage
from shared.runtime import Resources
from shared.status import ApprovalStatus, WaitStatus

log = structlog.get_logger(__name__)


def due_reminders(now: datetime) -> Select[uuid.UUID]:
    """The approvers this duty reminds: pending, their reminder due, on a gate still open."""
    return (
        select(Approval.id)
        .join(Wait, Wait.id == Approval.wait_id)
        .where(
            Approval.status == ApprovalStatus.PENDING,
            Approval.next_reminder_at <= now,
            Wait.status == WaitStatus.OPEN,
            or_(Wait.expires_at.is_(None), Wait.expires_at > now),
        )
    )


async def send_reminders(resources: Resources, *, batch: int) -> int:
    """Stage up to `batch` due reminders; returns how many."""
    now = utcnow()
    staged: list[Staged] = []
    async with resources.sessions.begin() as session:
        due = (
            await session.execute(
                due_reminders(now)
                .add_columns(
                    Approval.execution_id,
                    Approval.node_id,
                    Approval.reminders_sent,
                    Approval.next_reminder_at,
                    Wait.rule,
                )
                .order_by(Approval.next_reminder_at)
                .limit(batch)
                .with_for_update(of=Approval, skip_locked=True)
            )
        ).all()
        for row in due:
            every = (row.rule or {}).get("reminder_every_seconds")
            count = row.reminders_sent + 1
            reminded = await session.scalar(
                update(Approval)
                .where(
                    Approval.id == row.id,
                    Approval.status == ApprovalStatus.PENDING,
                    Approval.next_reminder_at == row.next_reminder_at,
                )
                .values(
                    reminders_sent=count,
                    next_reminder_at=now + timedelta(seconds=every) if every else None,
                )
                .returning(Approval.id)
            )
            if reminded is None:
                continue
            key = mail_key(row.execution_id, row.node_id, row.id, f"reminder:{count}")
            message = ApprovalEmail(approval_id=row.id, purpose="reminder", idempotency_key=key)
            staged.append(await stage(session, EMAIL, message))
            log.info("approval_reminder_staged", approval_id=str(row.id), reminder=count)
    await publish_staged(resources.sessions, resources.broker, staged)
    return len(staged)

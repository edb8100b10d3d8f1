"""Duty: fire waits whose time has come (timers, retry back-offs, approval/signature expiry).

Firing only publishes a resume; the executor decides the wait. `fired_at` is set once, by a
compare-and-set in the transaction that stages the resume, so a wait is fired at most once
however many schedulers run, and at least once because the outbox outlives a crash.
"""

import uuid
from datetime import datetime

import structlog
from sqlalchemy import Select, select, update

from shared.broker.topology import RESUME
from shared.db.tables import Wait
from shared.db.types import utcnow
from shared.messages import ResumeExecution
from shared.outbox import Staged, publish_staged, stage
from shared.runtime import Resources
from shared.status import WaitStatus

log = structlog.get_logger(__name__)

#: Kinds whose expiry is the point of the wait; any other kind expiring is a timeout.
TIMER_KINDS = frozenset({"timer", "retry"})


def due_waits(now: datetime) -> Select[uuid.UUID]:
    """The waits this duty fires: open, their time come, not fired yet."""
    return select(Wait.id).where(
        Wait.status == WaitStatus.OPEN, Wait.expires_at <= now, Wait.fired_at.is_(None)
    )


async def fire_due_waits(resources: Resources, *, batch: int) -> int:
    """Fire up to `batch` due waits; returns how many resumes were staged."""
    now = utcnow()
    staged: list[Staged] = []
    async with resources.sessions.begin() as session:
        due = (
            await session.execute(
                due_waits(now)
                .add_columns(Wait.execution_id, Wait.kind)
                .order_by(Wait.expires_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for wait_id, execution_id, kind in due:
            fired = await session.scalar(
                update(Wait)
                .where(Wait.id == wait_id, Wait.fired_at.is_(None), Wait.status == WaitStatus.OPEN)
                .values(fired_at=now)
                .returning(Wait.id)
            )
            if fired is None:
                continue
            reason = "timer_due" if kind in TIMER_KINDS else "expired"
            message = ResumeExecution(execution_id=execution_id, wait_id=wait_id, reason=reason)
            staged.append(await stage(session, RESUME, message))
            log.info(
                "wait_fired", execution_id=str(execution_id), wait_id=str(wait_id), reason=reason
            )
    await publish_staged(resources.sessions, resources.broker, staged)
    return len(staged)

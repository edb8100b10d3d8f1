"""Duty: resume paused runs whose resume message was lost.

A resume travels as a broker message. When the executor cannot take it — the database is away
for it — the message is requeued a few times and then dead-lettered, and the run would stay
paused with its decision recorded. The facts are in the database, so this duty finds such waits
and stages their resume again:

- approval waits that the recorded decisions already decide (the node's rule: approved when
  approvals ≥ required, rejected when approvals + pending < required), whose latest decision
  (`waits.last_decided_at`, set by the gateway with each one) is older than
  `stalled_resume_after_seconds` (younger resumes may still be in flight). Only gates with a
  recorded decision are read, through an index: the pass never resumed a gate without one,
  and gates nobody decided on (most parked runs) cost it nothing;
- waits the scheduler fired at their deadline that are still open that long after firing.

A resume that is not needed is harmless: the executor decides a wait once, by compare-and-set.
The duty runs at most once per `stalled_resume_after_seconds`, so a wait the executor keeps
failing on is retried at that pace rather than on every pass.
"""

import time
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import BindParameter, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.timers import TIMER_KINDS
from shared.broker.topology import RESUME
from shared.db.tables import Approval, Execution, Wait
from shared.db.types import utcnow
from shared.messages import ResumeExecution
from shared.outbox import Staged, publish_staged, stage
from shared.runtime import Resources
from shared.status import ApprovalStatus, WaitStatus
from shared.status import ExecutionStatus as S

log = structlog.get_logger(__name__)


class StalledResumes:
    """Stateful (it remembers its last pass), so built per scheduler."""

    def __init__(self) -> None:
        self._last = float("-inf")

    async def __call__(self, resources: Resources, *, batch: int) -> int:
        after = resources.settings.stalled_resume_after_seconds
        if time.monotonic() - self._last < after:
            return 0
        self._last = time.monotonic()
        decided = await _decided_gates(resources, after, batch)
        refired = await _refire_fired_waits(resources, after, batch)
        staged = decided + refired
        await publish_staged(resources.sessions, resources.broker, staged)
        if staged:
            log.warning("stalled_resumes_restaged", decided=len(decided), fired=len(refired))
        return len(staged)


async def _decided_gates(resources: Resources, after: float, batch: int) -> list[Staged]:
    before = utcnow() - timedelta(seconds=after)
    # Only gates somebody decided on: `last_decided_at` is set with each recorded decision, and
    # the partial index ix_waits_open_gates_last_decided holds open gates that have one. Gates
    # nobody touched are not read at all, however many runs are parked on them. The constants
    # are inlined so that every plan (a generic one too) can see the index's predicate.
    decided_on = select(Wait.id).where(
        Wait.status == _inline(WaitStatus.OPEN.value),
        Wait.kind == _inline("approval"),
        Wait.last_decided_at.is_not(None),
        Wait.last_decided_at < before,
    )
    # Which approvers count is said in the aggregates, not in the WHERE clause: a condition on
    # `approvals.status` there let the planner, its statistics out of date, AND the gate's
    # approvers with every pending approver (ix_approvals_status_next_reminder) once per gate,
    # a pass quadratic in the gates (minutes at 40,000). Each gate reads its own approvers.
    tally = (
        select(
            Approval.wait_id,
            func.count().filter(Approval.status == ApprovalStatus.APPROVED).label("approved"),
            func.count().filter(Approval.status.in_(("approved", "pending"))).label("live"),
        )
        .where(Approval.wait_id.in_(decided_on))
        .group_by(Approval.wait_id)
        .subquery()
    )
    required = Wait.rule["required"].as_integer()
    async with resources.sessions.begin() as session:
        rows = (
            await session.execute(
                select(Wait.id, Wait.execution_id)
                .join(tally, tally.c.wait_id == Wait.id)
                .join(Execution, Execution.id == Wait.execution_id)
                .where(
                    Wait.status == WaitStatus.OPEN,
                    Execution.status == S.PAUSED,
                    or_(tally.c.approved >= required, tally.c.live < required),
                )
                .limit(batch)
            )
        ).all()
        return [await _stage(session, execution, wait, "fact") for wait, execution in rows]


def _inline(value: str) -> BindParameter[str]:
    """A constant written into the statement rather than sent as a parameter: a partial
    index's predicate is matched against constants only (SQLite never matches a parameter,
    PostgreSQL not in a generic plan)."""
    return literal(value, literal_execute=True)


async def _refire_fired_waits(resources: Resources, after: float, batch: int) -> list[Staged]:
    now = utcnow()
    before = now - timedelta(seconds=after)
    staged: list[Staged] = []
    async with resources.sessions.begin() as session:
        rows = (
            await session.execute(
                select(Wait.id, Wait.execution_id, Wait.kind, Wait.fired_at)
                .join(Execution, Execution.id == Wait.execution_id)
                .where(
                    Wait.status == WaitStatus.OPEN,
                    Wait.fired_at < before,
                    Wait.expires_at <= now,
                    Execution.status == S.PAUSED,
                )
                .limit(batch)
            )
        ).all()
        for wait_id, execution_id, kind, fired_at in rows:
            # Compare-and-set on fired_at: two schedulers never both fire it again.
            again = await session.scalar(
                update(Wait)
                .where(
                    Wait.id == wait_id, Wait.fired_at == fired_at, Wait.status == WaitStatus.OPEN
                )
                .values(fired_at=now)
                .returning(Wait.id)
            )
            if again is not None:
                reason = "timer_due" if kind in TIMER_KINDS else "expired"
                staged.append(await _stage(session, execution_id, wait_id, reason))
    return staged


async def _stage(
    session: AsyncSession, execution_id: uuid.UUID, wait_id: uuid.UUID, reason: str
) -> Staged:
    message = ResumeExecution(execution_id=execution_id, wait_id=wait_id, reason=reason)
    return await stage(session, RESUME, message)

"""Tries cut short: what becomes of an e-mail whose notifier died (or lost its database) while
sending it, and the look that finds such an e-mail when its message never came back.

The delivery row was claimed before the server was spoken to (deliveries.py), so a try cut
short leaves a claim without an outcome. Whoever finds it puts the e-mail back in the queue as
a fresh message, staged in the outbox in the transaction that ends the claim: the message that
was being handled is acknowledged, and a crash costs each copy at most one of the queue's
deliveries, never the e-mail its life. Only an e-mail cut short
DOCFLOW_EMAIL_MAX_INTERRUPTIONS times (one that kills every notifier) fails for good; its
waiting node then learns it like any other failure.

The redelivered message finds the claim at once, as a rule. What never comes back — a message
dead-lettered (before this rule, or after failing for another reason), or lost — is found by
`put_back_stuck`: a claim older than DOCFLOW_EMAIL_STUCK_AFTER_SECONDS on a row nobody holds
(a live try holds its row's lock, so SKIP LOCKED passes it by).
"""

from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier import deliveries
from services.notifier.deliveries import LIVE_CLAIM_GRACE_SECONDS, CutShort
from shared.broker.topology import EMAIL, RESUME
from shared.db.tables import EmailDelivery
from shared.db.types import utcnow
from shared.errors import UndecodableMessage
from shared.messages import Message, ResumeExecution, SendEmail, decode
from shared.outbox import Staged, publish_staged, stage
from shared.runtime import Resources
from shared.settings import Settings
from shared.status import DeliveryStatus

log = structlog.get_logger(__name__)

#: Stuck claims put back per look; the rest wait for the next one.
BATCH = 100


async def after_cut_short(
    session: AsyncSession, settings: Settings, cut: CutShort, request: Message
) -> tuple[str, list[Staged]]:
    """End the claim of the try cut short, then put `request` back in the queue, or fail the
    e-mail after too many interruptions. Returns the outcome (`requeued`, `failed`) and what
    to publish after the commit."""
    await deliveries.record_cut_short(session, cut.delivery_id)
    if cut.interruptions >= settings.email_max_interruptions:
        reason = f"cut short {cut.interruptions} times (the notifier stopped mid-send)"
        await deliveries.record_failed(session, cut.delivery_id, reason)
        log.warning("email_failed", reason=reason)
        return "failed", await resume_waiting(session, request)
    log.warning("email_requeued_after_interruption", interruptions=cut.interruptions)
    return "requeued", [await stage(session, EMAIL, request)]


async def resume_waiting(session: AsyncSession, message: Message) -> list[Staged]:
    """Stage the fact for the waiting node, if one waits on this e-mail."""
    if not isinstance(message, SendEmail) or message.wait_id is None:
        return []
    if message.execution_id is None:
        return []
    resume = ResumeExecution(
        execution_id=message.execution_id, wait_id=message.wait_id, reason="fact"
    )
    return [await stage(session, RESUME, resume)]


async def put_back_stuck(resources: Resources) -> int:
    """Put back in the queue every e-mail whose try was cut short long enough ago that its
    message is not coming back; returns how many were found."""
    settings = resources.settings
    stuck_after = max(settings.email_stuck_after_seconds, LIVE_CLAIM_GRACE_SECONDS)
    before = utcnow() - timedelta(seconds=stuck_after)
    staged: list[Staged] = []
    async with resources.sessions.begin() as session:
        rows = (
            await session.execute(
                select(EmailDelivery.id, EmailDelivery.request, EmailDelivery.interruptions)
                .where(
                    EmailDelivery.status == DeliveryStatus.SENDING,
                    EmailDelivery.claim_id.is_not(None),
                    EmailDelivery.claimed_at < before,
                )
                .order_by(EmailDelivery.claimed_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            cut = CutShort(row.id, row.interruptions + 1)
            try:
                request = decode(row.request or {})
            except UndecodableMessage as e:
                await deliveries.record_cut_short(session, row.id)
                await deliveries.record_failed(session, row.id, f"stored e-mail is unreadable: {e}")
                continue
            _, more = await after_cut_short(session, settings, cut, request)
            staged.extend(more)
    if staged:
        await publish_staged(resources.sessions, resources.broker, staged)
    if rows:
        log.warning("email_stuck_tries_put_back", count=len(rows))
    return len(rows)

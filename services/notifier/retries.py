"""When a deferred e-mail is tried again, and the timer that publishes it then.

The delay doubles per try from DOCFLOW_EMAIL_RETRY_INITIAL_SECONDS up to the maximum, and is
never shorter than the server's `Retry-After`. Due rows are claimed with SKIP LOCKED and their
stored message is staged in the outbox in the same transaction that clears `next_attempt_at`,
so several notifiers never publish one retry twice and a crash never loses it (the scheduler
relays what was staged but not published).
"""

import asyncio
import contextlib
import heapq
from datetime import datetime

import structlog
from sqlalchemy import select, update

from services.notifier.interruptions import put_back_stuck
from shared.broker.topology import EMAIL
from shared.db.tables import EmailDelivery
from shared.db.types import utcnow
from shared.errors import UndecodableMessage
from shared.loops import stray_cancellation
from shared.messages import decode
from shared.outbox import Staged, publish_staged, stage
from shared.runtime import Resources
from shared.settings import Settings
from shared.status import DeliveryStatus

log = structlog.get_logger(__name__)

#: Rows republished per look; the rest wait for the next one.
BATCH = 100
#: With nothing due that this notifier knows of, it looks every this many scheduler intervals
#: (10 s by default): for retries another notifier deferred before it stopped, and for tries
#: cut short (found after DOCFLOW_EMAIL_STUCK_AFTER_SECONDS, 120 s by default). A look costs
#: a woken process about 15 ms of CPU; every second, the notifier's look was a third of what
#: 100,000 parked runs cost all services together while nothing happened.
IDLE_LOOKS = 10


def retry_delay(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """Seconds before try `attempt + 1`, after try `attempt` was deferred."""
    backoff = settings.email_retry_initial_seconds * float(2 ** max(attempt - 1, 0))
    delay = min(backoff, settings.email_retry_max_seconds)
    return max(delay, retry_after or 0.0)


async def republish_due(resources: Resources) -> int:
    """Publish the stored message of every deferred e-mail whose time has come."""
    staged: list[Staged] = []
    async with resources.sessions.begin() as session:
        rows = (
            await session.execute(
                select(EmailDelivery.id, EmailDelivery.request)
                .where(
                    EmailDelivery.status == DeliveryStatus.SENDING,
                    EmailDelivery.next_attempt_at <= utcnow(),
                    EmailDelivery.request.is_not(None),
                )
                .order_by(EmailDelivery.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            values: dict[str, object] = {"next_attempt_at": None, "request": None}
            try:
                staged.append(await stage(session, EMAIL, decode(row.request)))
            except UndecodableMessage as e:
                values.update(
                    status=DeliveryStatus.FAILED, last_error=f"stored retry is unreadable: {e}"
                )
            await session.execute(
                update(EmailDelivery).where(EmailDelivery.id == row.id).values(**values)
            )
    if staged:
        await publish_staged(resources.sessions, resources.broker, staged)
        log.info("email_retries_published", count=len(staged))
    return len(staged)


class RetryTimer:
    """Looks for due retries, and for tries cut short whose message never came back
    (interruptions.py): when a retry this notifier deferred is due, and otherwise every
    `IDLE_LOOKS` scheduler intervals; never more often than one interval."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: When the retries this notifier deferred are due, earliest first.
        self._due: list[datetime] = []
        self._woken = asyncio.Event()

    def expect(self, at: datetime) -> None:
        """A retry this notifier deferred until `at`: look for it then."""
        heapq.heappush(self._due, at)
        self._woken.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="email-retry-timer")
            self._resources.loop_deaths.watch(
                self._task, "e-mail retry timer", lambda: self._stopping
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        interval = self._resources.settings.scheduler_interval_seconds
        while True:
            now = utcnow()
            while self._due and self._due[0] <= now:
                heapq.heappop(self._due)
            more = False
            try:
                more = await republish_due(self._resources) >= BATCH
                await put_back_stuck(self._resources)
            except asyncio.CancelledError:
                if not stray_cancellation():
                    raise
                log.error("email_retry_timer_cancelled")
            except Exception as e:  # a database or broker blip: the next look tries again
                log.warning("email_retry_timer_failed", error=repr(e))
            await asyncio.sleep(interval)
            if not more:  # after a full batch more may be due at once: look again soon
                await self._until_next_look(interval * (IDLE_LOOKS - 1))

    async def _until_next_look(self, longest: float) -> None:
        """Until the earliest expected retry is due, at most `longest` seconds."""
        while True:
            self._woken.clear()
            wait = longest
            if self._due:
                wait = min(wait, (self._due[0] - utcnow()).total_seconds())
            if wait <= 0:
                return
            try:
                await asyncio.wait_for(self._woken.wait(), timeout=wait)
            except TimeoutError:
                return
            # A retry was deferred meanwhile: it may be due sooner.

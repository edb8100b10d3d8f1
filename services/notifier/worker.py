"""The notifier: consumes `notifications.email`, sends each key once, records every try.

Ack policy (carried out by the broker's `deliver`): every e-mail that was handled is
acknowledged — sent, duplicate, failed for good, deferred (its next try is scheduled on the
delivery row and published again by the retry timer), or put back in the queue as a fresh
message after a try of it was cut short. Only a crash leaves a message unacknowledged: the
broker redelivers it, its handler finds the claim the dead try left on the delivery row and
puts the e-mail back as a fresh message (interruptions.py), which is then tried again with the
same Message-ID. So crashes never add up against the queue's delivery limit.

An e-mail sent for a waiting node names its wait: its final outcome (sent, or failed for good)
is recorded with a `ResumeExecution(reason="fact")` staged in the same transaction. The
notifier records the fact; the executor decides what it means for the execution.
"""

import asyncio
import contextlib
from contextvars import ContextVar
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier import deliveries
from services.notifier.approval_mail import ApprovalMailer, Prepare
from services.notifier.deliveries import Attempt, CutShort, Skipped
from services.notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from services.notifier.interruptions import after_cut_short, resume_waiting
from services.notifier.message import message_id_for
from services.notifier.retries import RetryTimer, retry_delay
from services.notifier.transport import Transport, Transports
from shared.broker.base import Subscription
from shared.broker.topology import EMAIL
from shared.db.errors import through_outages
from shared.db.types import utcnow
from shared.logging import log_context
from shared.messages import ApprovalEmail, Message, SendEmail
from shared.outbox import Staged, publish_staged
from shared.runtime import Resources

log = structlog.get_logger(__name__)

#: How long stop() waits for e-mails being sent to finish.
STOP_GRACE_SECONDS = 30.0

#: How often a copy of an e-mail whose try is under way elsewhere looks again.
UNDER_WAY_POLL_SECONDS = 0.2

#: The broker message being handled: what a deferred e-mail stores to be published again. For
#: an approval e-mail that is the token-less envelope, never the e-mail with its fresh link.
_HANDLING: ContextVar[Message | None] = ContextVar("notifier_handling", default=None)


class Notifier:
    def __init__(
        self,
        resources: Resources,
        *,
        transport: Transport | None = None,
        transports: Transports | None = None,
    ) -> None:
        self._resources = resources
        self._transports = transports or Transports(resources.settings, default=transport)
        self._retries = RetryTimer(resources)
        self._subscription: Subscription | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._approvals = ApprovalMailer(resources, self.send)
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        if self._subscription is not None:
            return
        await self._transports.open()
        self._stopping.clear()
        self._subscription = await self._resources.broker.consume(
            EMAIL, self._through_outages, prefetch=self._resources.settings.notifier_prefetch
        )
        self._retries.start()
        log.info("notifier_started", transport=type(self._transports.default).__name__)

    async def stop(self) -> None:
        """Stop taking messages, then give e-mails being sent a bounded time to finish, so no
        handler touches the database after this returns."""
        subscription, self._subscription = self._subscription, None
        if subscription is None:
            return
        self._stopping.set()
        await self._retries.stop()
        await subscription.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=STOP_GRACE_SECONDS)
        await self._transports.close()
        log.info("notifier_stopped")

    async def _through_outages(self, message: Message) -> None:
        """While the database is away the e-mail stays in hand instead of using up its
        deliveries; the delivery row's key makes a repeated try safe."""
        await through_outages(
            lambda: self._on_message(message), what=EMAIL, stopping=self._stopping
        )

    async def _on_message(self, message: Message) -> None:
        """The hook around each delivery: log context, in-flight count and the outcome metric."""
        if not isinstance(message, SendEmail | ApprovalEmail):
            raise DeliveryError(f"not an e-mail: {type(message).__name__}")
        self._in_flight += 1
        self._idle.clear()
        outcome = "error"
        handling = _HANDLING.set(message)
        try:
            with log_context(
                idempotency_key=message.idempotency_key,
                execution_id=_id_or_none(getattr(message, "execution_id", None)),
            ):
                if isinstance(message, ApprovalEmail):
                    outcome = await self._approvals.send(message)
                else:
                    outcome = await self.send(message)
        finally:
            _HANDLING.reset(handling)
            self._resources.metrics.emails.labels(outcome=outcome).inc()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def send(self, message: SendEmail, prepare: Prepare | None = None) -> str:
        """Deliver `message` unless its key was sent or waits for a later try; returns the
        outcome for the metrics (sent/printed, duplicate, scheduled, deferred, failed,
        requeued, superseded).

        The try is claimed and committed first, then sent under the row's lock (deliveries.py).
        `prepare` completes the message once the key is known to be unsent (an approval e-mail
        mints its link there), in a transaction of its own committed before the send: the
        e-mail must not reach anyone before what its link points to is in the database (a mail
        gateway's link scanner opens links the moment they arrive, and a send whose commit is
        lost to a crash would leave a dead link in the approver's inbox). A try superseded
        after that leaves an unused link behind, which opens nothing anyone knows of.
        """
        message_id = message_id_for(message.idempotency_key)
        original = _HANDLING.get() or message
        staged: list[Staged] = []
        async with self._resources.sessions() as session:
            while True:
                async with session.begin():
                    begun = await deliveries.claim(
                        session,
                        message,
                        request=original.model_dump(mode="json"),
                        message_id=message_id,
                        now=utcnow(),
                    )
                    if begun is Skipped.SCHEDULED:
                        log.info("email_waits_for_its_retry")
                        return "scheduled"
                    if begun is Skipped.SENT:
                        log.info("email_duplicate")
                        # The wait of a re-run node learns the outcome too (its earlier wait
                        # decided).
                        staged = await resume_waiting(session, message)
                        outcome = "duplicate"
                    elif isinstance(begun, CutShort):
                        outcome, staged = await after_cut_short(
                            session, self._resources.settings, begun, original
                        )
                if begun is not Skipped.UNDER_WAY:
                    break
                # Another copy's try is between its two transactions, or died a moment ago.
                await asyncio.sleep(UNDER_WAY_POLL_SECONDS)
            if isinstance(begun, Attempt):
                if prepare is not None:
                    async with session.begin():
                        message = await prepare(session)
                async with session.begin():
                    if not await deliveries.hold(session, begun):
                        log.info("email_try_taken_over", attempt=begun.number)
                        return "superseded"
                    # An approval e-mail learns its execution only once prepared.
                    with log_context(execution_id=_id_or_none(message.execution_id)):
                        outcome, staged = await self._attempt(session, begun, message, message_id)
        if staged:
            await publish_staged(self._resources.sessions, self._resources.broker, staged)
        return outcome

    async def _attempt(
        self, session: AsyncSession, attempt: Attempt, message: SendEmail, message_id: str
    ) -> tuple[str, list[Staged]]:
        settings = self._resources.settings
        transport_name: str | None = None
        try:
            transport, outgoing = await self._transports.prepare(session, message)
            # Injected transports (tests, embedders) may not name themselves.
            transport_name = getattr(transport, "name", type(transport).__name__)
            receipt = await transport.send(outgoing)
        except PermanentDeliveryError as e:
            await deliveries.record_failed(
                session, attempt.delivery_id, str(e), transport=transport_name
            )
            log.warning("email_failed", reason=str(e), attempt=attempt.number)
            return "failed", await resume_waiting(session, message)
        except TransientDeliveryError as e:
            if attempt.number >= settings.email_max_attempts:
                reason = f"gave up after {attempt.number} tries: {e}"
                await deliveries.record_failed(
                    session, attempt.delivery_id, reason, transport=transport_name
                )
                log.warning("email_failed", reason=reason, attempt=attempt.number)
                return "failed", await resume_waiting(session, message)
            delay = retry_delay(settings, attempt.number, e.retry_after)
            original = _HANDLING.get() or message
            retry_at = utcnow() + timedelta(seconds=delay)
            await deliveries.record_deferred(
                session,
                attempt,
                str(e),
                retry_at=retry_at,
                request=original.model_dump(mode="json"),
                transport=transport_name,
            )
            self._retries.expect(retry_at)
            log.warning("email_deferred", reason=str(e), attempt=attempt.number, retry_in=delay)
            return "deferred", []
        await deliveries.record_sent(
            session,
            attempt,
            at=utcnow(),
            transport=transport_name,
            reply=receipt.reply,
            note=receipt.note,
        )
        log.info("email_sent", attempt=attempt.number, message_id=message_id, via=transport_name)
        return transport.delivered_outcome, await resume_waiting(session, message)


def _id_or_none(value: object) -> str | None:
    return str(value) if value else None

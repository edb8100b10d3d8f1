"""The notifier: consumes `notifications.email`, sends each key once, records every try.

Ack policy (carried out by the broker's `deliver`): returned normally = acknowledged (sent,
duplicate, or failed for good); raised = requeued (transient trouble), until the queue's
delivery limit dead-letters the message.
"""

import asyncio
import contextlib

import structlog

from services.notifier import deliveries
from services.notifier.approval_mail import ApprovalMailer, Prepare
from services.notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from services.notifier.message import compose, envelope_recipients, message_id_for
from services.notifier.transport import Transport, create_transport
from shared.broker.base import Subscription
from shared.broker.topology import EMAIL
from shared.db.types import utcnow
from shared.messages import ApprovalEmail, Message, SendEmail
from shared.runtime import Resources

log = structlog.get_logger(__name__)

#: How long stop() waits for e-mails being sent to finish.
STOP_GRACE_SECONDS = 30.0


class Notifier:
    def __init__(self, resources: Resources, *, transport: Transport | None = None) -> None:
        self._resources = resources
        self._transport = transport or create_transport(resources.settings)
        self._subscription: Subscription | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._approvals = ApprovalMailer(resources, self.send)

    async def start(self) -> None:
        if self._subscription is not None:
            return
        self._subscription = await self._resources.broker.consume(
            EMAIL, self._on_message, prefetch=self._resources.settings.prefetch
        )
        log.info("notifier_started", transport=type(self._transport).__name__)

    async def stop(self) -> None:
        """Stop taking messages, then give e-mails being sent a bounded time to finish, so no
        handler touches the database after this returns."""
        subscription, self._subscription = self._subscription, None
        if subscription is None:
            return
        await subscription.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=STOP_GRACE_SECONDS)
        log.info("notifier_stopped")

    async def _on_message(self, message: Message) -> None:
        """The hook around each delivery: log context, in-flight count and the outcome metric."""
        if not isinstance(message, SendEmail | ApprovalEmail):
            raise DeliveryError(f"not an e-mail: {type(message).__name__}")
        self._in_flight += 1
        self._idle.clear()
        outcome = "error"
        try:
            with structlog.contextvars.bound_contextvars(
                idempotency_key=message.idempotency_key,
                execution_id=str(getattr(message, "execution_id", None) or "") or None,
            ):
                if isinstance(message, ApprovalEmail):
                    outcome = await self._approvals.send(message)
                else:
                    outcome = await self.send(message)
        except TransientDeliveryError:
            outcome = "deferred"
            raise
        finally:
            self._resources.metrics.emails.labels(outcome=outcome).inc()
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def send(self, message: SendEmail, prepare: Prepare | None = None) -> str:
        """Deliver `message` unless its key was sent; returns the outcome for the metrics.

        `prepare` completes the message inside the delivery's transaction once the key is
        known to be unsent (an approval e-mail mints its link there).

        Raises TransientDeliveryError, after recording it, when another try is worthwhile.
        """
        message_id = message_id_for(message.idempotency_key)
        deferred: TransientDeliveryError | None = None
        async with self._resources.sessions.begin() as session:
            attempt = await deliveries.begin_attempt(session, message, message_id=message_id)
            if attempt is None:
                log.info("email_duplicate")
                return "duplicate"
            if prepare is not None:
                message = await prepare(session)
            try:
                email = compose(message, sender=self._resources.settings.smtp_from)
                note = await self._transport.send(email, envelope_recipients(message))
            except PermanentDeliveryError as e:
                await deliveries.record_failed(session, attempt, str(e))
                log.warning("email_failed", reason=str(e), attempt=attempt.number)
                return "failed"
            except TransientDeliveryError as e:
                await deliveries.record_deferred(session, attempt, str(e))
                deferred = e
            else:
                await deliveries.record_sent(session, attempt, at=utcnow(), note=note)
                log.info("email_sent", attempt=attempt.number, message_id=message_id)
                return self._transport.delivered_outcome
        # Raised only now, so the attempt and its error are committed before the requeue.
        assert deferred is not None
        log.warning("email_deferred", reason=str(deferred), attempt=attempt.number)
        raise deferred

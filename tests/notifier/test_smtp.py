import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest
from aiosmtpd.controller import Controller

from services.notifier.retries import IDLE_LOOKS
from services.notifier.worker import Notifier
from shared.broker.topology import EMAIL
from shared.messages import SendEmail
from shared.runtime import Resources
from shared.settings import Settings
from tests.notifier.support import (
    Mailbox,
    delivery,
    delivery_status,
    emails,
    eventually,
    running_notifier,
)


def approval_email(key: str, *, to: str = "ana@example.com") -> SendEmail:
    return SendEmail(
        idempotency_key=key,
        to=[to],
        cc=["legal@example.com"],
        bcc=["audit@example.com"],
        subject="Please approve the ACME contract",
        text="Approve: https://docflow.example/approvals/abc",
        html='<p><a href="https://docflow.example/approvals/abc">Approve</a></p>',
        workspace_id=uuid.uuid4(),
        execution_id=uuid.uuid4(),
    )


@pytest.fixture
async def unhurried(smtp_settings: Settings, mailbox: Mailbox) -> AsyncIterator[Resources]:
    """One message at a time, so a later message is handled only after an earlier one is done."""
    one_at_a_time = smtp_settings.model_copy(update={"notifier_prefetch": 1})
    async with running_notifier(one_at_a_time) as opened:
        yield opened


async def test_an_email_from_the_queue_reaches_the_server_once_as_text_and_html_with_its_message_id(
    resources: Resources, mailbox: Mailbox, notifier: Notifier
) -> None:
    key = f"{uuid.uuid4()}:notify"
    await resources.broker.publish(EMAIL, approval_email(key))

    await delivery_status(resources, key, "sent")

    [(envelope, email)] = mailbox.received
    assert sorted(envelope) == ["ana@example.com", "audit@example.com", "legal@example.com"]
    assert email["Message-ID"] == f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@docflow>"
    assert email["Subject"] == "Please approve the ACME contract"
    assert email["Cc"] == "legal@example.com"
    assert email["Bcc"] is None
    assert email.get_content_type() == "multipart/alternative"
    text, html = email.get_body(("plain",)), email.get_body(("html",))
    assert text is not None and "https://docflow.example/approvals/abc" in text.get_content()
    assert html is not None and '<a href="https://docflow.example/approvals/abc">' in (
        html.get_content()
    )
    row = await delivery(resources, key)
    assert row is not None
    assert (row.attempts, row.message_id, row.last_error) == (1, email["Message-ID"], None)
    assert row.sent_at is not None
    assert row.recipients["bcc"] == ["audit@example.com"]
    assert emails(resources, "sent") == 1


async def test_the_same_key_published_three_times_is_sent_once(
    resources: Resources, mailbox: Mailbox, notifier: Notifier
) -> None:
    key = f"{uuid.uuid4()}:notify"
    for _ in range(3):
        await resources.broker.publish(EMAIL, approval_email(key))

    async def all_handled() -> bool:
        return emails(resources, "sent") + emails(resources, "duplicate") == 3

    await eventually(all_handled)

    assert len(mailbox.received) == 1
    assert emails(resources, "sent") == 1
    row = await delivery(resources, key)
    assert row is not None and (row.status, row.attempts) == ("sent", 1)


async def test_a_permanent_refusal_is_recorded_failed_with_the_reason_and_not_retried(
    unhurried: Resources, mailbox: Mailbox
) -> None:
    resources = unhurried
    mailbox.refuse_recipient["gone@example.com"] = "550 5.1.1 <gone@example.com>: No such user"
    refused = SendEmail(
        idempotency_key=f"{uuid.uuid4()}:notify", to=["gone@example.com"], subject="Hi", text="."
    )
    await resources.broker.publish(EMAIL, refused)
    await delivery_status(resources, refused.idempotency_key, "failed")
    # Handled strictly after the refused one (prefetch 1): had that been requeued, the
    # server would have seen its recipient again by now.
    sentinel = approval_email(f"{uuid.uuid4()}:sentinel")
    await resources.broker.publish(EMAIL, sentinel)
    await delivery_status(resources, sentinel.idempotency_key, "sent")

    row = await delivery(resources, refused.idempotency_key)
    assert row is not None
    assert row.attempts == 1
    assert row.last_error is not None and "550" in row.last_error
    assert "No such user" in row.last_error
    assert mailbox.rcpt_attempts["gone@example.com"] == 1
    assert emails(resources, "failed") == 1
    assert emails(resources, "deferred") == 0
    assert await resources.broker.dead_letters(EMAIL) == 0


async def test_a_temporary_refusal_is_retried_and_then_delivered(
    resources: Resources, mailbox: Mailbox, notifier: Notifier
) -> None:
    mailbox.data_replies.append("451 4.3.0 Mailbox busy, try later")
    key = f"{uuid.uuid4()}:notify"
    await resources.broker.publish(EMAIL, approval_email(key))

    await delivery_status(resources, key, "sent")

    assert len(mailbox.received) == 1
    row = await delivery(resources, key)
    assert row is not None and row.attempts == 2
    assert row.last_error is not None and "451" in row.last_error
    assert emails(resources, "deferred") == 1
    assert emails(resources, "sent") == 1


async def test_an_unreachable_server_defers_the_email_until_it_is_up(
    smtp_settings: Settings, smtp_port: int
) -> None:
    key = f"{uuid.uuid4()}:notify"
    async with running_notifier(smtp_settings) as resources:
        await resources.broker.publish(EMAIL, approval_email(key))

        async def refused_once() -> bool:
            row = await delivery(resources, key)
            return row is not None and row.last_error is not None

        await eventually(refused_once)
        row = await delivery(resources, key)
        assert row is not None and row.status == "sending"

        handler = Mailbox()
        controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
        await asyncio.to_thread(controller.start)
        try:
            await delivery_status(resources, key, "sent")
        finally:
            await asyncio.to_thread(controller.stop)

    assert len(handler.received) == 1


async def test_a_deferred_email_is_tried_again_when_due_not_at_the_timers_idle_look(
    smtp_settings: Settings, mailbox: Mailbox
) -> None:
    """An idle notifier looks for due retries only every `IDLE_LOOKS` intervals (10 s here),
    but a retry it deferred itself is looked for when it is due."""
    settings = smtp_settings.model_copy(
        update={"scheduler_interval_seconds": 1.0, "email_retry_initial_seconds": 0.3}
    )
    mailbox.data_replies.append("451 4.3.0 Mailbox busy, try later")
    key = f"{uuid.uuid4()}:notify"
    async with running_notifier(settings) as resources:
        await resources.broker.publish(EMAIL, approval_email(key))

        async def sent() -> bool:
            row = await delivery(resources, key)
            return row is not None and row.status == "sent"

        # Two intervals and the delay: far sooner than the idle look.
        await eventually(sent, within=1.0 * IDLE_LOOKS / 2)

    assert len(mailbox.received) == 1

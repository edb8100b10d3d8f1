import uuid
from collections.abc import AsyncIterator

import pytest

from shared.broker.topology import EMAIL
from shared.messages import SendEmail
from shared.runtime import Resources
from shared.settings import Settings
from tests.notifier.support import delivery, delivery_status, emails, running_notifier


@pytest.fixture
async def console_resources(settings: Settings) -> AsyncIterator[Resources]:
    """No smtp_host, as in `docflow dev`; on both backends."""
    assert not settings.smtp_host
    async with running_notifier(settings) as opened:
        yield opened


async def test_without_an_smtp_server_each_email_is_printed_with_its_links_and_recorded_sent(
    console_resources: Resources, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = console_resources
    message = SendEmail(
        idempotency_key=f"{uuid.uuid4()}:notify",
        to=["ana@example.com"],
        subject="Please approve the ACME contract",
        text="Hello Ana,\nplease review: https://docflow.example/approvals/abc",
        html='<a href="https://docflow.example/approvals/abc/reject">Reject</a>',
    )
    await resources.broker.publish(EMAIL, message)

    await delivery_status(resources, message.idempotency_key, "sent")

    out = capsys.readouterr().out
    assert "To:         ana@example.com" in out
    assert "Subject:    Please approve the ACME contract" in out
    assert "Hello Ana,\nplease review: https://docflow.example/approvals/abc" in out
    assert "  https://docflow.example/approvals/abc/reject" in out  # only in the HTML part
    row = await delivery(resources, message.idempotency_key)
    assert row is not None and row.attempts == 1
    assert emails(resources, "printed") == 1


async def test_an_email_that_cannot_be_built_is_recorded_failed_and_not_retried(
    console_resources: Resources, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = console_resources
    injected = SendEmail(
        idempotency_key=f"{uuid.uuid4()}:notify",
        to=["ana@example.com"],
        subject="Hi\nBcc: everyone@example.com",
        text=".",
    )
    await resources.broker.publish(EMAIL, injected)

    await delivery_status(resources, injected.idempotency_key, "failed")

    row = await delivery(resources, injected.idempotency_key)
    assert row is not None and row.attempts == 1
    assert row.last_error is not None and "cannot be built" in row.last_error
    assert "E-mail (no SMTP server configured" not in capsys.readouterr().out
    assert emails(resources, "failed") == 1

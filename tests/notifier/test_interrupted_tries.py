"""Tries cut short: a notifier SIGKILLed mid-send leaves a claim on the delivery row, and the
e-mail is sent later even when its message never comes back (dead-lettered), while a try that
is still talking to the server is never taken for cut short however long it takes."""

import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import aio_pika
import pytest

from services.notifier.deliveries import LIVE_CLAIM_GRACE_SECONDS
from services.notifier.interruptions import put_back_stuck
from services.notifier.worker import Notifier
from shared.broker.topology import EMAIL, RESUME, Names
from shared.db.types import utcnow
from shared.messages import SendEmail
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.notifier.support import HoldingMailbox, delivery, delivery_status, holding_mailbox
from tests.processes import consumer_count, spawn, stop
from tests.support import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def box() -> Iterator[tuple[HoldingMailbox, int]]:
    with holding_mailbox() as held:
        yield held


@pytest.fixture
def settings(pg_settings: Settings, box: tuple[HoldingMailbox, int]) -> Settings:
    return pg_settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": box[1],
            # The shortest the look allows: a claim older than the live-claim grace.
            "email_stuck_after_seconds": 0.1,
            "scheduler_interval_seconds": 0.2,
        }
    )


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings) as opened:
        yield opened


def waiting_email() -> SendEmail:
    """An e-mail a node waits on: its outcome resumes the execution."""
    return SendEmail(
        idempotency_key=f"{uuid.uuid4()}:mail",
        to=["ana@acme.example"],
        subject="Contract",
        text="Attached.",
        workspace_id=uuid.uuid4(),
        execution_id=uuid.uuid4(),
        wait_id=uuid.uuid4(),
    )


async def kill_mid_send(
    settings: Settings, resources: Resources, box: HoldingMailbox, message: SendEmail
) -> None:
    """A notifier process takes `message`, claims it, talks to the server and is SIGKILLed
    there; the message goes back to the queue."""
    notifier = await spawn(settings, "notifier")
    try:
        await eventually(lambda: consumer_count(settings, EMAIL), within=30)
        await resources.broker.publish(EMAIL, message)
        await eventually(_held(box), within=30)
    finally:
        await stop(notifier, signal.SIGKILL)
    await eventually(lambda: resources.broker.queue_depth(EMAIL), lambda n: n == 1)


async def dead_letter_the_queued_email(settings: Settings) -> None:
    """Do to the message what RabbitMQ does at the delivery limit."""
    names = Names(settings.queue_prefix)
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(names.queue(EMAIL), passive=True)
        message = await queue.get(timeout=5)
        assert message is not None
        await message.reject(requeue=False)
    finally:
        await connection.close()
    await eventually(lambda: _dead_letters(settings), lambda n: n == 1)


async def _dead_letters(settings: Settings) -> int:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        name = Names(settings.queue_prefix).dead_letter_queue(EMAIL)
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def test_an_email_cut_short_and_dead_lettered_is_sent_by_the_stuck_claim_look(
    settings: Settings, resources: Resources, box: tuple[HoldingMailbox, int]
) -> None:
    mailbox, _ = box
    message = waiting_email()
    await kill_mid_send(settings, resources, mailbox, message)
    await dead_letter_the_queued_email(settings)
    row = await delivery(resources, message.idempotency_key)
    assert row is not None and row.status == "sending" and row.claim_id is not None
    mailbox.hold.clear()

    notifier = Notifier(resources)
    await notifier.start()
    try:
        await delivery_status(resources, message.idempotency_key, "sent")
    finally:
        await notifier.stop()

    [(envelope, _)] = mailbox.received
    assert envelope == ["ana@acme.example"]
    row = await delivery(resources, message.idempotency_key)
    assert row is not None
    assert (row.attempts, row.interruptions) == (1, 1)
    assert row.claim_id is None and row.request is None
    # The node waiting on the e-mail learns its outcome: the run carries on.
    await eventually(lambda: resources.broker.queue_depth(RESUME), lambda n: n == 1)


async def test_an_email_cut_short_more_often_than_allowed_fails_and_its_wait_learns_it(
    settings: Settings, box: tuple[HoldingMailbox, int]
) -> None:
    mailbox, _ = box
    message = waiting_email()
    # The redelivered message finds the try cut short (the stuck-claim look stays out of it).
    fragile = settings.model_copy(
        update={"email_max_interruptions": 1, "email_stuck_after_seconds": 60.0}
    )
    async with open_resources(fragile) as resources:
        await kill_mid_send(fragile, resources, mailbox, message)
        mailbox.hold.clear()
        notifier = Notifier(resources)
        await notifier.start()
        try:
            await delivery_status(resources, message.idempotency_key, "failed")
        finally:
            await notifier.stop()
        row = await delivery(resources, message.idempotency_key)
        assert row is not None and row.last_error is not None
        assert "cut short 1 times" in row.last_error
        assert (row.attempts, row.interruptions) == (0, 1)
        await eventually(lambda: resources.broker.queue_depth(RESUME), lambda n: n == 1)
        assert await resources.broker.queue_depth(EMAIL) == 0
    assert mailbox.received == []


async def test_a_try_still_talking_to_the_server_is_never_put_back_however_old_its_claim(
    resources: Resources, box: tuple[HoldingMailbox, int]
) -> None:
    mailbox, _ = box
    message = waiting_email()
    notifier = Notifier(resources)
    await notifier.start()
    try:
        await resources.broker.publish(EMAIL, message)
        await eventually(_held(mailbox), within=30)
        # Past the live-claim grace and the stuck bound, while the server still holds it.
        await eventually(
            lambda: delivery(resources, message.idempotency_key),
            lambda row: (
                row is not None
                and row.claimed_at is not None
                and utcnow() - row.claimed_at > timedelta(seconds=LIVE_CLAIM_GRACE_SECONDS + 0.5)
            ),
            within=30,
        )
        assert await put_back_stuck(resources) == 0
        mailbox.hold.clear()
        await delivery_status(resources, message.idempotency_key, "sent")
    finally:
        await notifier.stop()
    assert len(mailbox.received) == 1
    row = await delivery(resources, message.idempotency_key)
    assert row is not None and (row.attempts, row.interruptions) == (1, 0)


def _held(box: HoldingMailbox) -> Any:
    async def probe() -> int:
        return box.held

    return probe

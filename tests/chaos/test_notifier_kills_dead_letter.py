"""The smallest form of a failure the full notifier scenario found: a notifier SIGKILLed while
it sends an e-mail returns the message to the queue, and RabbitMQ counts that return against
the queue's delivery limit. After as many crashes as the limit allows, the e-mail is
dead-lettered although it never failed on its own account, and nothing sends it again: the run
waits on it until the node's timeout."""

import signal
from collections.abc import Callable, Iterator

import aio_pika
import pytest

from shared.broker.topology import EMAIL, Names
from shared.connections.crypto import new_secret_key
from shared.messages import SendEmail
from shared.runtime import open_resources
from shared.settings import Settings
from tests.email.support import add_connection
from tests.notifier.support import HoldingMailbox, delivery_status, holding_mailbox
from tests.processes import consumer_count, spawn, stop
from tests.support import eventually, seed_workflow, start_execution

pytestmark = pytest.mark.slow


@pytest.fixture
def mailbox() -> Iterator[tuple[HoldingMailbox, int]]:
    with holding_mailbox() as held:
        yield held


async def test_an_email_outlives_more_notifier_crashes_than_the_delivery_limit(
    pg_settings: Settings, mailbox: tuple[HoldingMailbox, int]
) -> None:
    box, port = mailbox
    settings = pg_settings.model_copy(update={"secret_key": new_secret_key()})
    assert settings.egress_allow, "the SMTP server listens on loopback"
    async with open_resources(settings) as resources:
        workspace_id, workflow_id = await seed_workflow(
            resources,
            {"name": "mail", "nodes": [{"id": "start", "type": "trigger", "position": 0}]},
        )
        execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
        await add_connection(
            resources,
            workspace_id,
            "smtp",
            "smtp",
            {"host": "127.0.0.1", "port": port, "starttls": False, "from_address": "a@b.c"},
        )
        message = SendEmail(
            idempotency_key=f"{execution_id}:mail",
            to=["ana@acme.example"],
            subject="Contract",
            text="Attached.",
            workspace_id=workspace_id,
            execution_id=execution_id,
            connection="smtp",
        )
        await resources.broker.publish(EMAIL, message)
        for crash in range(1, settings.delivery_limit + 2):
            notifier = await spawn(settings, "notifier")
            try:
                await eventually(lambda: _held(box), _at_least(crash), within=30)
            finally:
                await stop(notifier, signal.SIGKILL)
        box.hold.clear()
        # Crashes are not the e-mail's failures: it must still wait in the queue for the next
        # notifier. (A fix that re-sends dead-lettered e-mails instead would change this line.)
        assert await _dead_letters(settings) == 0

        notifier = await spawn(settings, "notifier")
        try:
            await eventually(lambda: consumer_count(settings, EMAIL), within=30)
            await delivery_status(resources, message.idempotency_key, "sent")
        finally:
            await stop(notifier)


async def _held(box: HoldingMailbox) -> int:
    return box.held


def _at_least(count: int) -> Callable[[int], bool]:
    return lambda n: n >= count


async def _dead_letters(settings: Settings) -> int:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        name = Names(settings.queue_prefix).dead_letter_queue(EMAIL)
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()

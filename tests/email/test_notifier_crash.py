"""A notifier killed with SIGKILL in the middle of an SMTP exchange loses nothing and sends
nothing twice: the broker redelivers, the next process finds the try cut short and puts the
e-mail back in the queue, and sends it once."""

import asyncio
import signal
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from shared.broker.topology import EMAIL
from shared.messages import EmailAttachment, SendEmail
from shared.runtime import Resources
from tests.email.support import DOCX, PPTX, add_connection, add_document
from tests.notifier.support import Mailbox, delivery, delivery_status, free_port
from tests.processes import consumer_count, spawn, stop
from tests.support import eventually, seed_workflow, start_execution

WORKFLOW = {
    "name": "mail",
    "nodes": [{"id": "start", "type": "trigger", "position": 0, "config": {}}],
}


class StallingMailbox(Mailbox):
    """Holds the first RCPT unanswered until released: the sender is mid-transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.stalled.is_set():
            self.stalled.set()
            # The server's own loop waits here, bounded, for the test to kill the sender.
            for _ in range(600):
                if self.release.is_set():
                    break
                await asyncio.sleep(0.05)
            return "451 4.3.0 the client went away"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.fixture
def stalling() -> Iterator[tuple[StallingMailbox, int]]:
    mailbox, port = StallingMailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        mailbox.release.set()
        controller.stop()


@pytest.mark.slow
async def test_an_email_killed_mid_send_reaches_the_server_once_after_a_restart(
    resources: Resources, stalling: tuple[StallingMailbox, int]
) -> None:
    mailbox, port = stalling
    settings = resources.settings
    workspace_id, workflow_id = await seed_workflow(resources, WORKFLOW)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    await add_connection(
        resources,
        workspace_id,
        "gmail",
        "smtp",
        {
            "host": "127.0.0.1",
            "port": port,
            "starttls": False,
            "from_address": "sales@acme.example",
        },
    )
    documents = [
        await add_document(
            resources,
            workspace_id=workspace_id,
            execution_id=execution_id,
            node_id="docs",
            name=name,
            content_type=kind,
            content=content,
        )
        for name, kind, content in [
            ("contract.docx", DOCX, b"contract"),
            ("deck.pptx", PPTX, b"deck"),
        ]
    ]
    message = SendEmail(
        idempotency_key=f"{execution_id}:mail",
        to=["ana@acme.example"],
        subject="Contract",
        text="Attached.",
        workspace_id=workspace_id,
        execution_id=execution_id,
        connection="gmail",
        attachments=[EmailAttachment(document_id=uuid.UUID(d["id"])) for d in documents],
    )

    first = await spawn(settings, "notifier")
    try:
        await eventually(lambda: consumer_count(settings, EMAIL), lambda n: n >= 1, within=30)
        await resources.broker.publish(EMAIL, message)
        assert await asyncio.to_thread(mailbox.stalled.wait, 30), "the send never started"
        await stop(first, signal.SIGKILL)
    finally:
        await stop(first, signal.SIGKILL)
    mailbox.release.set()
    assert mailbox.received == []

    second = await spawn(settings, "notifier")
    try:
        await delivery_status(resources, message.idempotency_key, "sent")
    finally:
        await stop(second)

    [(envelope, email)] = mailbox.received
    assert envelope == ["ana@acme.example"]
    attached = {part.get_filename(): part.get_content() for part in email.iter_attachments()}
    assert attached == {"contract.docx": b"contract", "deck.pptx": b"deck"}
    row = await delivery(resources, message.idempotency_key)
    # The killed try is counted as an interruption, not as one of the e-mail's own attempts.
    assert row is not None and row.attempts == 1 and row.interruptions == 1
    assert row.claim_id is None and row.request is None
    assert await resources.broker.queue_depth(EMAIL) == 0

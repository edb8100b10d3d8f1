"""An in-process SMTP server that keeps what it receives and refuses when told to."""

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from services.notifier.worker import Notifier
from shared.db.tables import EmailDelivery
from shared.runtime import Resources
from shared.settings import Settings
from tests.support import worker_on


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Mailbox:
    """aiosmtpd handler. It runs on the server's own thread; the test only reads what it keeps."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []
        #: address -> the reply RCPT gets for it (e.g. a 550)
        self.refuse_recipient: dict[str, str] = {}
        #: replies for the next DATA commands, in order; then 250
        self.data_replies: list[str] = []
        self.rcpt_attempts: Counter[str] = Counter()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpt_attempts[address] += 1
        if address in self.refuse_recipient:
            return self.refuse_recipient[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


async def eventually(condition: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    """Poll `condition` until it holds; fail at the deadline."""
    async with asyncio.timeout(within):
        # Polling, not an Event: the conditions live elsewhere (a database, another thread).
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def delivery(resources: Resources, key: str) -> EmailDelivery | None:
    async with resources.sessions() as session:
        row: EmailDelivery | None = await session.scalar(
            select(EmailDelivery).where(EmailDelivery.idempotency_key == key)
        )
        return row


async def delivery_status(resources: Resources, key: str, status: str) -> None:
    """Wait until the key's delivery row has `status`."""

    async def reached() -> bool:
        row = await delivery(resources, key)
        return row is not None and row.status == status

    await eventually(reached)


def emails(resources: Resources, outcome: str) -> float:
    value = resources.metrics.registry.get_sample_value(
        "docflow_emails_total", {"outcome": outcome}
    )
    return value or 0.0


class HoldingMailbox(Mailbox):
    """Holds every RCPT unanswered while `hold` is set: each sender is mid-transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = threading.Event()
        self.hold.set()
        self.held = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.held += 1
        for _ in range(600):  # bounded: the server's own loop waits for the test
            if not self.hold.is_set():
                break
            await asyncio.sleep(0.05)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@contextlib.contextmanager
def holding_mailbox() -> Iterator[tuple[HoldingMailbox, int]]:
    """A local SMTP server that holds senders mid-transaction, and its port."""
    mailbox, port = HoldingMailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        mailbox.hold.clear()
        controller.stop()


@contextlib.asynccontextmanager
async def running_notifier(settings: Settings) -> AsyncIterator[Resources]:
    """A notifier started on resources opened with `settings`; stopped, and they closed, after."""
    async with worker_on(settings, Notifier) as resources:
        yield resources

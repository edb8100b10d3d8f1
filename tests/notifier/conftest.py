from collections.abc import AsyncIterator, Iterator

import pytest
from aiosmtpd.controller import Controller

from services.notifier.worker import Notifier
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.notifier.support import Mailbox, free_port


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1, in its own thread."""
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(pg_settings: Settings, smtp_port: int) -> Settings:
    return pg_settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp_port})


@pytest.fixture
async def resources(smtp_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(smtp_settings) as opened:
        yield opened


@pytest.fixture
async def notifier(resources: Resources, mailbox: Mailbox) -> AsyncIterator[Notifier]:
    """A notifier consuming the real queue and sending to `mailbox`."""
    worker = Notifier(resources)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()

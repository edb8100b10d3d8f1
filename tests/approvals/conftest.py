from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.executor.worker import ExecutorWorker
from services.gateway.app import create_app
from services.notifier.worker import Notifier
from services.scheduler.worker import Scheduler
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.approvals.support import Harness, RecordingTransport


@pytest.fixture
async def resources(pg_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(pg_settings) as opened:
        yield opened


@pytest.fixture
async def harness(resources: Resources) -> AsyncIterator[Harness]:
    """Executor, notifier (recording what it sends) and gateway, on PostgreSQL + RabbitMQ."""
    transport = RecordingTransport()
    executor = ExecutorWorker(resources)
    notifier = Notifier(resources, transport=transport)
    await executor.start()
    await notifier.start()
    try:
        async with (
            TestClient(TestServer(create_app(resources))) as client,
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser,
        ):
            yield Harness(resources, client, transport, browser)
    finally:
        await notifier.stop()
        await executor.stop()


@pytest.fixture
async def scheduler(resources: Resources) -> AsyncIterator[Scheduler]:
    worker = Scheduler(resources)
    await worker.start()
    yield worker
    await worker.stop()

from collections.abc import AsyncIterator

import pytest

from services.scheduler.worker import Scheduler
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.approvals.support import Harness, running_harness


@pytest.fixture
async def resources(pg_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(pg_settings) as opened:
        yield opened


@pytest.fixture
async def harness(resources: Resources) -> AsyncIterator[Harness]:
    """Executor, notifier (recording what it sends) and gateway, on PostgreSQL + RabbitMQ."""
    async with running_harness(resources) as running:
        yield running


@pytest.fixture
async def scheduler(resources: Resources) -> AsyncIterator[Scheduler]:
    worker = Scheduler(resources)
    await worker.start()
    yield worker
    await worker.stop()

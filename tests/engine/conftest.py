from collections.abc import AsyncIterator

import pytest

from services.executor.worker import ExecutorWorker
from shared.runtime import Resources, open_resources
from shared.settings import Settings


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings) as opened:
        yield opened


@pytest.fixture
async def executor(resources: Resources) -> AsyncIterator[ExecutorWorker]:
    worker = ExecutorWorker(resources)
    await worker.start()
    yield worker
    await worker.stop()


@pytest.fixture
async def scheduler(resources: Resources) -> AsyncIterator[object]:
    from services.scheduler.worker import Scheduler

    worker = Scheduler(resources)
    await worker.start()
    yield worker
    await worker.stop()

"""A gateway, an executor and a scheduler on one set of resources, on both backends, with a
secret key (resume URLs need one)."""

from collections.abc import AsyncIterator

import pytest

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.connections.crypto import new_secret_key
from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Gateway]:
    keyed = settings.model_copy(update={"secret_key": new_secret_key()})
    async with open_resources(keyed) as resources, running_gateway(resources) as gateway:
        executor = ExecutorWorker(resources)
        scheduler = Scheduler(resources)
        await executor.start()
        await scheduler.start()
        try:
            yield gateway
        finally:
            await scheduler.stop()
            await executor.stop()

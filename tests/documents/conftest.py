from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.executor.worker import ExecutorWorker
from shared.connections.crypto import new_secret_key
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.documents.fakes import FakeGoogle, FakeGraph, service_account
from tests.documents.support import running_executor


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    """Both backends, with a secret key for connections."""
    keyed = settings.model_copy(update={"secret_key": new_secret_key()})
    async with open_resources(keyed) as opened:
        yield opened


@pytest.fixture
async def pg_resources(pg_settings: Settings) -> AsyncIterator[Resources]:
    keyed = pg_settings.model_copy(update={"secret_key": new_secret_key()})
    async with open_resources(keyed) as opened:
        yield opened


@pytest.fixture
async def executor(resources: Resources) -> AsyncIterator[ExecutorWorker]:
    async with running_executor(resources) as worker:
        yield worker


@pytest.fixture
async def pg_executor(pg_resources: Resources) -> AsyncIterator[ExecutorWorker]:
    async with running_executor(pg_resources) as worker:
        yield worker


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    server = FakeGraph()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def google_key() -> tuple[dict[str, Any], rsa.RSAPublicKey]:
    return service_account()


@pytest.fixture
async def google(google_key: tuple[dict[str, Any], rsa.RSAPublicKey]) -> AsyncIterator[FakeGoogle]:
    server = FakeGoogle(public_key=google_key[1])
    await server.start()
    yield server
    await server.stop()

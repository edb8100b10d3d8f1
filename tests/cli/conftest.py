"""The services the CLI tests talk to: a gateway and an executor on PostgreSQL and RabbitMQ
(a test module that needs more workers defines its own `stack`)."""

from collections.abc import AsyncIterator

import pytest

from shared.settings import Settings
from tests.cli.support import client_env
from tests.observability.stack import Stack, service_stack


@pytest.fixture
async def stack(pg_settings: Settings) -> AsyncIterator[Stack]:
    async with service_stack(pg_settings, workers=("executor",)) as running:
        yield running


@pytest.fixture
def env(stack: Stack) -> dict[str, str]:
    """The client's environment: where the API is and the key to use."""
    return client_env(stack.api.removesuffix("/api/v1"), stack.key)

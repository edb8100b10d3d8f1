from collections.abc import AsyncIterator

import pytest

from shared.connections.crypto import new_secret_key
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.email.support import FakeGraph


@pytest.fixture
def mail_settings(pg_settings: Settings) -> Settings:
    """Connections need a secret key; retries start fast so tests see several."""
    return pg_settings.model_copy(
        update={"secret_key": new_secret_key(), "email_retry_initial_seconds": 0.2}
    )


@pytest.fixture
async def resources(mail_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(mail_settings) as opened:
        yield opened


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    server = await FakeGraph().start()
    yield server
    await server.stop()

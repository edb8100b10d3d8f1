from collections.abc import AsyncIterator

import pytest

from shared.runtime import Resources, open_resources
from shared.settings import Settings


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    """Both backends: PostgreSQL + RabbitMQ, and SQLite + the in-process broker."""
    async with open_resources(settings) as opened:
        yield opened


@pytest.fixture
async def pg_resources(pg_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(pg_settings) as opened:
        yield opened

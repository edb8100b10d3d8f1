"""A gateway, an executor and a scheduler on one set of resources, on both backends, with a
secret key (resume URLs need one)."""

from collections.abc import AsyncIterator

import pytest

from shared.settings import Settings
from tests.events.support import running_stack
from tests.gateway.conftest import Gateway


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Gateway]:
    async with running_stack(settings) as gateway:
        yield gateway

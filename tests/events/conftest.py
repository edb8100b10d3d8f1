"""`stack`: a gateway, an executor and a scheduler on one set of resources, on both backends,
with a secret key (resume URLs need one). `harness`: the approvals harness on PostgreSQL, for
the statements only PostgreSQL runs."""

from collections.abc import AsyncIterator

import pytest

from shared.runtime import open_resources
from shared.settings import Settings
from tests.approvals.support import Harness, running_harness
from tests.events.support import running_stack
from tests.gateway.conftest import Gateway


@pytest.fixture
async def stack(settings: Settings) -> AsyncIterator[Gateway]:
    async with running_stack(settings) as gateway:
        yield gateway


@pytest.fixture
async def harness(pg_settings: Settings) -> AsyncIterator[Harness]:
    async with open_resources(pg_settings) as resources, running_harness(resources) as running:
        yield running

from collections.abc import AsyncIterator

import pytest

from shared.settings import Settings
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import Stack, running_stack


@pytest.fixture
async def stack(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> AsyncIterator[Stack]:
    """Gateway and executor on PostgreSQL and RabbitMQ, beside both fake providers."""
    async with running_stack(pg_settings, clicksign, zapsign) as running:
        yield running


@pytest.fixture
async def stack_with_scheduler(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> AsyncIterator[Stack]:
    async with running_stack(pg_settings, clicksign, zapsign, scheduler=True) as running:
        yield running


@pytest.fixture
async def ingest(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> AsyncIterator[Stack]:
    """The gateway alone: what it records, with no executor applying anything."""
    async with running_stack(pg_settings, clicksign, zapsign, executor=False) as running:
        yield running


@pytest.fixture
async def polling(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> AsyncIterator[Stack]:
    """With a scheduler that polls a request after one quiet second."""
    async with running_stack(
        pg_settings, clicksign, zapsign, scheduler=True, signature_reconcile_after_seconds=1.0
    ) as running:
        yield running

"""A gateway over real PostgreSQL and RabbitMQ with a secret key, a fixed public URL and,
where a test needs it, a fixed HubSpot clock."""

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.app import create_app
from services.gateway.hooks.hubspot import CLOCK
from shared.api_keys import create_api_key
from shared.connections.crypto import new_secret_key
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway

PUBLIC_URL = "https://docflow.example"
#: The providers' documented bodies, in the shared folder beside the repository.
PROVIDERS = Path(__file__).parents[3] / "shared" / "providers"


def provider_file(name: str) -> bytes:
    return (PROVIDERS / name).read_bytes()


def provider_json(name: str) -> Any:
    return json.loads(provider_file(name))


@contextlib.asynccontextmanager
async def trigger_gateway(
    resources: Resources, *, clock_ms: Callable[[], float] | None = None
) -> AsyncIterator[Gateway]:
    workspace_id, key = await create_api_key(resources.sessions, "acme")
    app = create_app(resources)
    if clock_ms is not None:
        app[CLOCK] = clock_ms
    async with TestClient(TestServer(app)) as client:
        yield Gateway(client, resources, key, workspace_id)


@pytest.fixture
def trigger_settings(pg_settings: Settings) -> Settings:
    return pg_settings.model_copy(update={"secret_key": new_secret_key(), "public_url": PUBLIC_URL})


@pytest.fixture
async def trigger_resources(trigger_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(trigger_settings) as resources:
        yield resources


@pytest.fixture
async def both_resources(settings: Settings) -> AsyncIterator[Resources]:
    """On PostgreSQL + RabbitMQ and on the embedded backends."""
    update = {"secret_key": new_secret_key(), "public_url": PUBLIC_URL}
    async with open_resources(settings.model_copy(update=update)) as resources:
        yield resources


def now_ms() -> float:
    return time.time() * 1000

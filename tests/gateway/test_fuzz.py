"""Schemathesis over every operation of the served OpenAPI document, with every check and the
stateful phase: bad input is a 4xx, never a 5xx, and every answer is the one documented.

A reduced run by default (derandomized, so CI sees the same cases every time); `make fuzz`
runs many more examples with a seed of its own (DOCFLOW_FUZZ_EXAMPLES, DOCFLOW_FUZZ_SEED).
"""

import asyncio
import os
from typing import Any

import pytest
from sqlalchemy import select

from shared.db.tables import ApiKey
from shared.runtime import open_resources
from shared.settings import Settings
from tests.conftest import make_settings
from tests.gateway.conftest import running_gateway
from tests.gateway.fuzzing import config, run

EXAMPLES = int(os.environ.get("DOCFLOW_FUZZ_EXAMPLES", "8"))
SEED = int(os.environ["DOCFLOW_FUZZ_SEED"]) if os.environ.get("DOCFLOW_FUZZ_SEED") else None


@pytest.fixture
def fuzz_settings(pg_settings: Settings) -> Settings:
    # The fuzzer is one client sending as fast as it can: rate limits would answer 429 and
    # hide what the operations behind them do.
    return make_settings(
        **pg_settings.model_dump(exclude_unset=True),
        rate_limit_api_per_second=0,
        rate_limit_pages_per_second=0,
        rate_limit_webhooks_per_second=0,
    )


@pytest.mark.timeout(max(300, EXAMPLES * 30))
async def test_no_input_gets_a_server_error_and_every_answer_is_documented(
    fuzz_settings: Settings,
) -> None:
    async with open_resources(fuzz_settings) as resources, running_gateway(resources) as gateway:
        response = await gateway.client.get("/api/v1/openapi.json")
        document: dict[str, Any] = await response.json()
        base_url = str(gateway.client.make_url("")).rstrip("/")
        settings = config(base_url, gateway.key, examples=EXAMPLES, seed=SEED)
        async with resources.sessions() as session:
            key_id = await session.scalar(
                select(ApiKey.id).where(ApiKey.workspace_id == gateway.workspace_id)
            )
        assert key_id is not None
        summary = await asyncio.to_thread(run, document, settings, key_id)

    print(summary.render())
    assert not summary.errors, summary.render()
    assert not summary.failures, summary.render()

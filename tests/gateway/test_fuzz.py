"""Schemathesis over every operation of the served OpenAPI document, with every check and the
stateful phase: bad input is a 4xx, never a 5xx, and every answer is the one documented.

A reduced run by default (derandomized, so CI sees the same cases every time); `make fuzz`
runs many more examples with a seed of its own (DOCFLOW_FUZZ_EXAMPLES, DOCFLOW_FUZZ_SEED).
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from services.executor.worker import ExecutorWorker
from services.notifier.worker import Notifier
from shared.connections.crypto import new_secret_key
from shared.db.tables import ApiKey
from shared.runtime import open_resources
from shared.settings import Settings
from tests.approvals.support import RecordingTransport
from tests.conftest import make_settings
from tests.documents.builders import docx_template
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway.fuzz_seeds import seed_runs, signed_by_its_example, with_examples
from tests.gateway.fuzzing import config, run, statuses
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import provider_settings

EXAMPLES = int(os.environ.get("DOCFLOW_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ["DOCFLOW_FUZZ_SEED"]) if os.environ.get("DOCFLOW_FUZZ_SEED") else None


@pytest.fixture
def fuzz_settings(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> Settings:
    # The fuzzer is one client sending as fast as it can: rate limits would answer 429 and
    # hide what the operations behind them do. With a secret key, as in production: without
    # one, connections and hook secrets answer only 503.
    settings = make_settings(
        **pg_settings.model_dump(exclude_unset=True),
        secret_key=new_secret_key(),
        rate_limit_api_per_second=0,
        rate_limit_pages_per_second=0,
        rate_limit_webhooks_per_second=0,
        # A stream of a waiting run would stay open past the request timeout (a keep-alive
        # every 2 seconds), and the fuzzer would wait for it.
        event_stream_max_seconds=0.2,
    )
    # The executor's signature nodes call the fake ClickSign, whose webhooks the gateway
    # checks with the settings account's secret.
    return provider_settings(settings, clicksign, zapsign)


async def _seed(gateway: Gateway) -> None:
    """One of each thing the API lists: the stateful phase follows the list operations' links
    to them, so operations that read, change or delete are tried on real ids, not only 404s
    (the fuzzer itself seldom draws a workflow or a template the gateway accepts)."""
    workflow = await gateway.create_workflow()
    await gateway.start(workflow["id"])
    post = gateway.client.post
    hook_secret = await post(
        f"/api/v1/workflows/{workflow['id']}/hook-secret", headers=gateway.auth
    )
    assert hook_secret.status == 201, await hook_secret.text()
    for connection in (
        {"name": "crm", "kind": "hubspot", "config": {"access_token": "t"}},
        {"name": "sign", "kind": "clicksign", "config": {"token": "t", "webhook_secret": "s"}},
    ):
        created = await post("/api/v1/connections", json=connection, headers=gateway.auth)
        assert created.status == 201, await created.text()
    form = aiohttp.FormData()
    form.add_field("file", docx_template(), filename="Contract.docx")
    template = await post("/api/v1/templates", data=form, headers=gateway.auth)
    assert template.status == 201, await template.text()


@contextlib.asynccontextmanager
async def _running(*workers: ExecutorWorker | Notifier) -> AsyncIterator[None]:
    """The executor runs the seeded workflows (and the fuzzer's runs) to their waits; the
    notifier mails the approval links."""
    for worker in workers:
        await worker.start()
    try:
        yield
    finally:
        for worker in reversed(workers):
            await worker.stop()


@pytest.mark.timeout(max(300, EXAMPLES * 30))
async def test_no_input_gets_a_server_error_and_every_answer_is_documented(
    fuzz_settings: Settings, clicksign: FakeClickSign
) -> None:
    transport = RecordingTransport()
    async with (
        open_resources(fuzz_settings) as resources,
        running_gateway(resources) as gateway,
        _running(ExecutorWorker(resources), Notifier(resources, transport=transport)),
    ):
        await _seed(gateway)
        seeded = await seed_runs(gateway, transport, clicksign)
        response = await gateway.client.get("/api/v1/openapi.json")
        served: dict[str, Any] = await response.json()
        document = with_examples(
            served,
            seeded,
            workspace_id=gateway.workspace_id,
            public_url=fuzz_settings.public_url,
        )
        base_url = str(gateway.client.make_url("")).rstrip("/")
        settings = config(base_url, gateway.key, examples=EXAMPLES, seed=SEED)
        async with resources.sessions() as session:
            key_id = await session.scalar(
                select(ApiKey.id).where(ApiKey.workspace_id == gateway.workspace_id)
            )
        assert key_id is not None
        summary = await asyncio.to_thread(run, document, settings, key_id)
        await signed_by_its_example(gateway, seeded)

    print(f"examples per operation: {EXAMPLES}; seed: {SEED or 'none (derandomized)'}")
    print(summary.render())
    print(statuses(summary))
    assert not summary.errors, summary.render()
    assert not summary.failures, summary.render()
    # The links took the stateful phase somewhere.
    assert summary.phases["stateful"] > 0, summary.render()
    # Every operation did its real work at least once: with the seeded ids (followed through
    # links, or given as explicit examples) and, behind a signature, signed right.
    assert not summary.unreached, summary.render()

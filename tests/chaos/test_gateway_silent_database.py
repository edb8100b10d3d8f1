"""The smallest form of a failure the PostgreSQL black-hole scenario found: a gateway whose
database stopped answering (no reset, no refusal, just silence) holds a run request until the
database is back, instead of answering 503 with Retry-After within 2 s."""

import asyncio
import time

import pytest
from sqlalchemy.engine import make_url

from shared.runtime import open_resources
from shared.settings import Settings
from tests.chaos.proxy import FaultProxy
from tests.gateway.conftest import Gateway, running_gateway

ANSWER_WITHIN_SECONDS = 2.0


@pytest.mark.xfail(
    strict=True,
    raises=TimeoutError,
    reason="product bug: no connect or statement timeout on the gateway's PostgreSQL pool",
)
async def test_a_run_request_to_a_gateway_whose_database_went_silent_is_refused_within_2_s(
    pg_settings: Settings,
) -> None:
    url = make_url(pg_settings.database_url)
    proxy = await FaultProxy(url.host or "127.0.0.1", url.port or 5432).start()
    silent = pg_settings.model_copy(
        update={"database_url": url.set(port=proxy.port).render_as_string(False)}
    )
    try:
        async with open_resources(silent) as resources, running_gateway(resources) as gateway:
            workflow = await gateway.create_workflow()
            proxy.black_hole()
            started = time.monotonic()
            request = asyncio.ensure_future(_post_run(gateway, workflow["id"]))
            try:
                status, retry_after = await asyncio.wait_for(
                    asyncio.shield(request), ANSWER_WITHIN_SECONDS + 1
                )
            finally:
                elapsed = time.monotonic() - started
                await proxy.restore()
                await asyncio.wait_for(request, 30)
    finally:
        await proxy.close()

    assert (status, elapsed <= ANSWER_WITHIN_SECONDS) == (503, True)
    assert retry_after


async def _post_run(gateway: Gateway, workflow_id: str) -> tuple[int, str | None]:
    response = await gateway.client.post(
        f"/api/v1/workflows/{workflow_id}/executions", json={}, headers=gateway.auth
    )
    await response.read()
    return response.status, response.headers.get("Retry-After")

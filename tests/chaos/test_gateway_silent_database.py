"""The smallest form of a failure the PostgreSQL black-hole scenario found: run requests that
share a group commit, sent while the database is silent, are all refused within 2 s. (The batch
used to time out, then be written again item by item, each waiting out the bound in turn.)"""

import asyncio
import time

from sqlalchemy.engine import make_url

from shared.runtime import open_resources
from shared.settings import Settings
from tests.chaos.proxy import FaultProxy
from tests.gateway.conftest import Gateway, running_gateway

ANSWER_WITHIN_SECONDS = 2.0
TOGETHER = 6


async def test_run_requests_sent_together_to_a_silent_database_are_all_refused_within_2_s(
    pg_settings: Settings,
) -> None:
    url = make_url(pg_settings.database_url)
    proxy = await FaultProxy(url.host or "127.0.0.1", url.port or 5432).start()
    silent = pg_settings.model_copy(
        update={
            "database_url": url.set(port=proxy.port).render_as_string(False),
            # As in tests/faults: bounds that keep one request's answer inside the promise.
            "db_connect_timeout_seconds": 1.5,
            "db_statement_timeout_seconds": 1.5,
        }
    )
    try:
        async with open_resources(silent) as resources, running_gateway(resources) as gateway:
            workflow = await gateway.create_workflow()
            proxy.black_hole()
            answers = await asyncio.wait_for(
                asyncio.gather(*(_post_run(gateway, workflow["id"]) for _ in range(TOGETHER))),
                30,
            )
            await proxy.restore()
    finally:
        await proxy.close()

    slow = [(status, round(seconds, 1)) for status, seconds in answers]
    assert all(status == 503 and s <= ANSWER_WITHIN_SECONDS + 0.5 for status, s in answers), slow


async def _post_run(gateway: Gateway, workflow_id: str) -> tuple[int, float]:
    started = time.monotonic()
    response = await gateway.client.post(
        f"/api/v1/workflows/{workflow_id}/executions", json={}, headers=gateway.auth
    )
    await response.read()
    return response.status, time.monotonic() - started

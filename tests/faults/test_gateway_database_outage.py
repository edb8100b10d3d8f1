"""A gateway whose database is away answers a run request with 503 and Retry-After within
2 s — whether the link is cut (connections refused and reset) or silent (packets dropped) —
never with a 500, never by hanging; and it accepts runs again once the database is back."""

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway
from tests.proxy import CuttableProxy

ANSWER_WITHIN_SECONDS = 2.0


async def _post_run(gateway: Gateway, workflow_id: str) -> tuple[int, str | None, float]:
    started = time.monotonic()
    response = await gateway.client.post(
        f"/api/v1/workflows/{workflow_id}/executions", json={}, headers=gateway.auth
    )
    await response.read()
    return response.status, response.headers.get("Retry-After"), time.monotonic() - started


#: Against a silent database a connection attempt that timed out is sometimes left to the
#: garbage collector to close (asyncpg's connect, cancelled mid-handshake), which Python
#: reports as an unclosed transport: once in CI, on a slow machine. The socket is closed
#: either way; what this test holds is the answer and its time.
_ABANDONED_HANDSHAKE = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*_SelectorTransport.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)


@pytest.mark.parametrize("fault", ["cut", pytest.param("silent", marks=_ABANDONED_HANDSHAKE)])
async def test_a_run_request_while_the_database_is_away_is_a_quick_503_then_202_again(
    pg_settings: Settings, fault: str
) -> None:
    url = make_url(pg_settings.database_url)
    proxy = await CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    behind = pg_settings.model_copy(
        update={
            "database_url": url.set(port=proxy.port).render_as_string(False),
            # A silent database is noticed by these bounds only; 1.5 s keeps the answer
            # inside the promise (the defaults, 2 s and 5 s, answer within 5 s).
            "db_connect_timeout_seconds": 1.5,
            "db_statement_timeout_seconds": 1.5,
        }
    )
    answers: list[Any] = []
    try:
        async with open_resources(behind) as resources, running_gateway(resources) as gateway:
            workflow = await gateway.create_workflow()
            if fault == "cut":
                await proxy.cut()
            else:
                proxy.black_hole()
            status, retry_after, seconds = await asyncio.wait_for(
                _post_run(gateway, workflow["id"]), 30
            )
            answers.append((status, retry_after is not None))
            assert seconds <= ANSWER_WITHIN_SECONDS + 0.5, seconds
            proxy.let_flow()
            await proxy.cut()
            await proxy.restore()
            status, _, _ = await _post_run(gateway, workflow["id"])
            answers.append((status, None))
    finally:
        proxy.let_flow()
        await proxy.cut()
    assert answers == [(503, True), (202, None)]

"""`/readyz` tells the truth: 503 while a process cannot do its job, 200 again after recovery.

A process cannot do its job while its database or broker is unreachable, or while a queue it
consumes has no consumer of its own (the broker link came back, its consumer did not). The
`docflow_consumers` gauge shows the last for the dashboard.
"""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url
from yarl import URL

from services.lifecycle import worker_side_app
from shared.broker.topology import RUN
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.conftest import AMQP_URL
from tests.faults.support import Recorder
from tests.proxy import CuttableProxy
from tests.support import eventually


@contextlib.asynccontextmanager
async def worker_behind_proxies(
    settings: Settings,
) -> AsyncIterator[tuple[TestClient[Any, Any], Resources, CuttableProxy, CuttableProxy]]:
    """A process's resources with its database and broker each behind a proxy, a consumer of
    the run queue, and its side door (`/readyz`, `/metrics`)."""
    amqp = URL(AMQP_URL)
    database = make_url(settings.database_url)
    broker_link = await CuttableProxy(amqp.host or "127.0.0.1", amqp.port or 5672).start()
    database_link = await CuttableProxy(database.host or "127.0.0.1", database.port or 5432).start()
    via = settings.model_copy(
        update={
            "amqp_url": str(amqp.with_port(broker_link.port)),
            "database_url": database.set(port=database_link.port).render_as_string(False),
        }
    )
    try:
        async with open_resources(via) as resources:
            await resources.broker.consume(RUN, Recorder(), prefetch=2)
            async with TestClient(TestServer(worker_side_app(resources))) as client:
                yield client, resources, broker_link, database_link
    finally:
        await broker_link.cut()
        await database_link.cut()


async def _readiness(client: TestClient[Any, Any]) -> tuple[int, dict[str, str]]:
    response = await client.get("/readyz")
    body = await response.json()
    return response.status, body["checks"]


async def test_a_worker_is_not_ready_while_its_broker_link_and_consumer_are_down(
    pg_settings: Settings,
) -> None:
    async with worker_behind_proxies(pg_settings) as (client, _, broker_link, _db):
        assert await _readiness(client) == (
            200,
            {"database": "ok", "broker": "ok", "consumers": "ok"},
        )
        await broker_link.cut()
        _, checks = await eventually(lambda: _readiness(client), lambda r: r[0] == 503)
        assert checks == {"database": "ok", "broker": "failed", "consumers": "failed"}
        await broker_link.restore()
        await eventually(lambda: _readiness(client), lambda r: r[0] == 200, within=30)


async def test_a_worker_is_not_ready_while_its_database_does_not_answer(
    pg_settings: Settings,
) -> None:
    async with worker_behind_proxies(pg_settings) as (client, _, _broker, database_link):
        await database_link.cut()
        status, checks = await _readiness(client)
        assert (status, checks["database"]) == (503, "failed")
        await database_link.restore()
        await eventually(lambda: _readiness(client), lambda r: r[0] == 200, within=30)


async def test_the_consumers_gauge_shows_a_detached_consumer_and_its_return(
    pg_settings: Settings,
) -> None:
    async with worker_behind_proxies(pg_settings) as (client, _, broker_link, _db):

        async def gauge() -> str:
            response = await client.get("/metrics")
            lines = (await response.text()).splitlines()
            return next(line for line in lines if line.startswith("docflow_consumers{"))

        assert await gauge() == f'docflow_consumers{{queue="{RUN}"}} 1.0'
        await broker_link.cut()
        await eventually(gauge, lambda line: line.endswith(" 0.0"))
        await broker_link.restore()
        await eventually(gauge, lambda line: line.endswith(" 1.0"), within=30)

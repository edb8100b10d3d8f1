"""A running gateway over real resources, a workspace with an API key, and small helpers."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.app import create_app
from shared.api_keys import create_api_key
from shared.broker.topology import Names
from shared.messages import Message, decode
from shared.runtime import Resources, open_resources
from shared.settings import Settings


def definition(**overrides: Any) -> dict[str, Any]:
    """A valid workflow definition: a trigger and a set node."""
    body: dict[str, Any] = {
        "name": "onboarding",
        "description": "greets a deal",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "greet",
                "type": "set",
                "position": 1,
                "config": {"values": {"greeting": "hello {{ source.name }}"}},
            },
        ],
    }
    body.update(overrides)
    return body


@dataclass
class Gateway:
    client: TestClient[Any, Any]
    resources: Resources
    key: str
    workspace_id: uuid.UUID

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def as_workspace(self, name: str) -> "Gateway":
        """The same server, with a key of another workspace."""
        workspace_id, key = await create_api_key(self.resources.sessions, name)
        return Gateway(self.client, self.resources, key, workspace_id)

    async def create_workflow(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/workflows", json=body or definition(), headers=self.auth
        )
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created

    async def start(
        self,
        workflow_id: str,
        body: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = dict(self.auth)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        response = await self.client.post(
            f"/api/v1/workflows/{workflow_id}/executions",
            json=body if body is not None else {"trigger_data": {"name": "Ada"}},
            headers=headers,
        )
        assert response.status == 202, await response.text()
        accepted: dict[str, Any] = await response.json()
        return accepted


@contextlib.asynccontextmanager
async def running_gateway(
    resources: Resources, *, workspace: str = "acme"
) -> AsyncIterator[Gateway]:
    workspace_id, key = await create_api_key(resources.sessions, workspace)
    async with TestClient(TestServer(create_app(resources))) as client:
        yield Gateway(client, resources, key, workspace_id)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """On both backends."""
    async with open_resources(settings) as resources, running_gateway(resources) as gw:
        yield gw


@pytest.fixture
async def pg_gateway(pg_settings: Settings) -> AsyncIterator[Gateway]:
    """On PostgreSQL and RabbitMQ only."""
    async with open_resources(pg_settings) as resources, running_gateway(resources) as gw:
        yield gw


async def take(
    resources: Resources, logical_queue: str, count: int = 1, *, within: float = 10.0
) -> list[Message]:
    """The next `count` messages of one of the test's work queues, taken off the broker:
    straight off the RabbitMQ queue with aio-pika, or by a consumer on the in-process broker."""
    if resources.settings.is_memory_broker:
        return await _take_in_process(resources, logical_queue, count, within)
    settings = resources.settings
    taken: list[Message] = []
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(Names(settings.queue_prefix).queue(logical_queue))
        async with queue.iterator() as messages:
            while len(taken) < count:
                incoming = await asyncio.wait_for(anext(messages), within)
                await incoming.ack()
                taken.append(decode(incoming.body))
    finally:
        await connection.close()
    return taken


async def _take_in_process(
    resources: Resources, logical_queue: str, count: int, within: float
) -> list[Message]:
    taken: list[Message] = []
    enough = asyncio.Event()

    async def keep(message: Message) -> None:
        taken.append(message)
        if len(taken) >= count:
            enough.set()

    # One consumer task, so nothing beyond `count` is taken before it is cancelled.
    subscription = await resources.broker.consume(logical_queue, keep, prefetch=1)
    try:
        await asyncio.wait_for(enough.wait(), within)
    finally:
        await subscription.cancel()
    return taken


async def wait_until(condition: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    """Poll an async condition until it holds, failing after `within` seconds."""

    async def poll() -> None:
        # Polling a database has no event to wait on; the deadline bounds it.
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), within)

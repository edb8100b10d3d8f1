"""Every DocFlow service in this process, each with its own resources and its own HTTP port,
as separate deployments would be: the gateway on its API port, workers on a metrics port."""

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from services.executor.worker import ExecutorWorker
from services.gateway.app import create_app
from services.lifecycle import serving, worker_side_app
from services.notifier.worker import Notifier
from services.scheduler.worker import Scheduler
from services.workers import Worker
from shared.api_keys import create_api_key
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.observability.support import free_port

#: A webhook-shaped route for tests: counted like any provider's, answers 202 to a valid key.
STUB_WEBHOOK = "/api/v1/webhooks/stub-provider/{workspace_id}"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Stack:
    ports: dict[str, int] = field(default_factory=dict)
    resources: dict[str, Resources] = field(default_factory=dict)
    key: str = ""
    workspace_id: str = ""

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}/api/v1"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.api}{path}", headers=headers, **kwargs) as response,
        ):
            body = await response.json() if response.content_type.endswith("json") else None
            return response.status, body

    async def scrape(self, service: str) -> Samples:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.ports[service]}/metrics") as response,
        ):
            assert response.status == 200
            text = await response.text()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when absent (a counter never incremented has no sample)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def _stub_webhook(request: web.Request) -> web.Response:
    return web.json_response({"accepted": True}, status=202)


@contextlib.asynccontextmanager
async def service_stack(
    settings: Settings,
    *,
    gauge_interval: float = 0.2,
    workers: tuple[str, ...] = ("executor", "notifier", "scheduler"),
) -> AsyncIterator[Stack]:
    stack = Stack()
    async with contextlib.AsyncExitStack() as exits:
        for name in ("gateway", *workers):
            stack.resources[name] = await exits.enter_async_context(open_resources(settings))
            stack.ports[name] = free_port()
        gateway = create_app(stack.resources["gateway"])
        gateway.router.add_post(STUB_WEBHOOK, _stub_webhook)
        await exits.enter_async_context(serving(gateway, "127.0.0.1", stack.ports["gateway"]))
        builders: dict[str, Callable[[Resources], Worker]] = {
            "executor": lambda r: ExecutorWorker(r),
            "notifier": lambda r: Notifier(r),
            "scheduler": lambda r: Scheduler(r, gauge_interval=gauge_interval),
        }
        for name in workers:
            worker = builders[name](stack.resources[name])
            await exits.enter_async_context(
                serving(worker_side_app(stack.resources[name]), "127.0.0.1", stack.ports[name])
            )
            await worker.start()
            exits.push_async_callback(worker.stop)
        workspace_id, stack.key = await create_api_key(stack.resources["gateway"].sessions, "ops")
        stack.workspace_id = str(workspace_id)
        yield stack

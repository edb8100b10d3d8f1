"""Helpers for observability tests: a webhook target the test opens node by node, SSE reading."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.client.sse import ServerEvent, read_events


@dataclass
class Gates:
    """A webhook target whose answer to `/<name>` waits until the test opens gate `name`.

    Counts the calls per path, so a test can prove a side effect happened exactly once.
    """

    url: str = ""
    calls: dict[str, int] = field(default_factory=dict)
    _gates: dict[str, asyncio.Event] = field(default_factory=dict)
    _arrived: dict[str, asyncio.Event] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    def gate(self, name: str) -> asyncio.Event:
        return self._gates.setdefault(name, asyncio.Event())

    def arrived(self, name: str) -> asyncio.Event:
        return self._arrived.setdefault(name, asyncio.Event())

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.calls[name] = self.calls.get(name, 0) + 1
        self.arrived(name).set()
        if name in self._gates:
            await self._gates[name].wait()
        return web.json_response({"ok": True, "name": name})

    async def start(self) -> "Gates":
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for gate in self._gates.values():
            gate.set()
        if self._runner is not None:
            await self._runner.cleanup()


@contextlib.asynccontextmanager
async def gates() -> AsyncIterator[Gates]:
    server = await Gates().start()
    try:
        yield server
    finally:
        await server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def five_nodes(url: str) -> dict[str, Any]:
    """trigger → set → webhook `/slow` → set → webhook `/last`."""
    return {
        "name": "five steps",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "price", "type": "set", "position": 1, "config": {"values": {"n": 1}}},
            {"id": "slow", "type": "webhook", "position": 2, "config": {"url": f"{url}/slow"}},
            {"id": "sum", "type": "set", "position": 3, "config": {"values": {"n": 2}}},
            {"id": "last", "type": "webhook", "position": 4, "config": {"url": f"{url}/last"}},
        ],
    }


async def take_until(
    events: AsyncIterator[ServerEvent], stop: str, node_id: str | None = None, *, within: float = 20
) -> list[ServerEvent]:
    """Events up to and including the first named `stop` (for `node_id`, when given)."""
    taken: list[ServerEvent] = []

    async def collect() -> None:
        async for event in events:
            taken.append(event)
            if event.name == stop and (node_id is None or event.data.get("node_id") == node_id):
                return
        raise AssertionError(f"stream ended before {stop}; got {[e.name for e in taken]}")

    await asyncio.wait_for(collect(), within)
    return taken


__all__ = ["ServerEvent", "read_events"]

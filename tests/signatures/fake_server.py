"""What both fake providers share: a local aiohttp server, recorded calls, and holds that let
a test stop the provider in the middle of answering a given call."""

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Hold:
    """Answer the call only once the test releases it; `reached` says the call came in."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


class FakeServer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.holds: dict[str, Hold] = {}
        #: Statuses to answer the next calls of a step with, before behaving again.
        self.failures: dict[str, list[int]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> "FakeServer":
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket private
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._closing.set()
        for hold in self.holds.values():
            hold.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def hold(self, step: str) -> Hold:
        self.holds[step] = Hold()
        return self.holds[step]

    async def record(self, request: web.Request, step: str) -> Any:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.calls.append(Call(request.method, request.path, dict(request.headers), body))
        hold = self.holds.get(step)
        if hold is not None:
            hold.reached.set()
            with contextlib.suppress(asyncio.CancelledError):
                await hold.release.wait()
        return body

    def fail_next(self, step: str, *statuses: int) -> None:
        """The next calls of `step` answer these statuses (429, 503…), one each, in order."""
        self.failures.setdefault(step, []).extend(statuses)

    def injected_failure(self, step: str) -> web.Response | None:
        pending = self.failures.get(step)
        if not pending:
            return None
        status = pending.pop(0)
        headers = {"Retry-After": "0"} if status == 429 else None
        return web.json_response(
            {"errors": [{"detail": "try again later"}]}, status=status, headers=headers
        )

    def calls_to(self, method: str, suffix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.endswith(suffix)]


def signed_pdf(name: str) -> bytes:
    """A stand-in for the provider's signed PDF, different per document."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return b"%PDF-1.4\n% signed by a fake provider\n" + digest.encode() + b"\n%%EOF\n"


def problem(status: int, message: str) -> web.Response:
    return web.json_response({"errors": [{"detail": message}]}, status=status)

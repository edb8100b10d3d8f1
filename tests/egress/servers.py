"""Local HTTP servers standing in for external hosts: one that answers, one that redirects."""

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[int]:
    """Serve `app` on `host`; yields the port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket private
    finally:
        await runner.cleanup()


def recording_app(hits: list[str], body: bytes = b"secret") -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def redirecting_app(hits: list[str], location: str) -> web.Application:
    """`/hop/<n>` redirects to `/hop/<n-1>` on itself; `/hop/0` (and `/go`) to `location`."""

    async def hop(request: web.Request) -> web.Response:
        hits.append(request.path)
        left = int(request.match_info.get("n", "0"))
        target = location if left == 0 else f"/hop/{left - 1}"
        raise web.HTTPFound(target)

    app = web.Application()
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/go", hop)
    return app

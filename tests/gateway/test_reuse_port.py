"""Several gateway processes on one port (DOCFLOW_HTTP_REUSE_PORT): each binds beside the others."""

import socket

import aiohttp
import pytest
from aiohttp import web

from services.lifecycle import serving

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="Linux/BSD only")


def _app(name: str) -> web.Application:
    async def who(_: web.Request) -> web.Response:
        return web.Response(text=name)

    app = web.Application()
    app.router.add_get("/who", who)
    return app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_two_servers_asking_for_reuse_port_listen_on_the_same_port() -> None:
    port = _free_port()
    async with (
        serving(_app("first"), "127.0.0.1", port, reuse_port=True),
        serving(_app("second"), "127.0.0.1", port, reuse_port=True),
    ):
        answered = set()
        # The kernel picks a listener per connection: fresh connections reach both.
        for _ in range(200):
            async with (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http,
                http.get(f"http://127.0.0.1:{port}/who") as response,
            ):
                answered.add(await response.text())
            if answered == {"first", "second"}:
                break
        assert answered == {"first", "second"}


async def test_without_reuse_port_a_second_server_cannot_bind_the_port() -> None:
    port = _free_port()
    async with serving(_app("first"), "127.0.0.1", port):
        with pytest.raises(OSError):
            async with serving(_app("second"), "127.0.0.1", port):
                pass

"""Signed files are downloaded whole: a real signed PDF spans many TCP segments."""

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from shared.esign.errors import ProviderError
from shared.esign.http import download

#: Larger than any socket buffer, so the body arrives in many reads.
SIGNED_PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8192 + b"\n%%EOF\n"


@pytest.fixture
async def file_url() -> AsyncIterator[str]:
    async def signed(_: web.Request) -> web.Response:
        return web.Response(body=SIGNED_PDF, content_type="application/pdf")

    app = web.Application()
    app.router.add_get("/signed.pdf", signed)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/signed.pdf"
    await runner.cleanup()


async def test_a_file_of_two_megabytes_is_downloaded_whole(file_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        content, content_type = await download(
            http, file_url, timeout_seconds=10, max_bytes=len(SIGNED_PDF)
        )
    assert (len(content), content_type) == (len(SIGNED_PDF), "application/pdf")
    assert content == SIGNED_PDF


async def test_a_file_one_byte_over_the_limit_is_refused(file_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(ProviderError, match="larger than") as refused:
            await download(http, file_url, timeout_seconds=10, max_bytes=len(SIGNED_PDF) - 1)
    assert not refused.value.retryable

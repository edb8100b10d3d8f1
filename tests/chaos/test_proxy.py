"""The fault proxy does what each fault claims, against a local echo server."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from tests.chaos.proxy import FaultProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = await FaultProxy("127.0.0.1", port).start()
    yield proxy
    await proxy.close()
    server.close()
    await server.wait_closed()


async def _connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def _round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"ping")
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(4), 2)


async def test_a_cut_resets_open_connections_and_refuses_new_ones_until_restored(
    proxy: FaultProxy,
) -> None:
    reader, writer = await _connect(proxy)
    assert await _round_trip(reader, writer) == b"ping"

    await proxy.cut()

    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 2)
    writer.close()
    with pytest.raises(ConnectionRefusedError):
        await _connect(proxy)
    await proxy.restore()
    reader, writer = await _connect(proxy)
    assert await _round_trip(reader, writer) == b"ping"
    writer.close()


async def test_a_black_hole_moves_no_byte_and_closes_nothing_until_restored(
    proxy: FaultProxy,
) -> None:
    reader, writer = await _connect(proxy)
    assert await _round_trip(reader, writer) == b"ping"

    proxy.black_hole()

    writer.write(b"held")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(4), 0.5)
    assert not reader.at_eof()
    await proxy.restore()
    assert await asyncio.wait_for(reader.readexactly(4), 2) == b"held"
    writer.close()


async def test_a_delay_holds_each_direction(proxy: FaultProxy) -> None:
    reader, writer = await _connect(proxy)
    proxy.delay(0.2)

    started = time.monotonic()
    assert await _round_trip(reader, writer) == b"ping"

    assert time.monotonic() - started >= 0.4
    writer.close()

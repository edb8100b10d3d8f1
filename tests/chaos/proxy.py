"""A TCP proxy for fault injection: forwards a link, and on demand cuts it (RST), black-holes it
(nothing moves, nobody is told) or delays it.

One proxy stands for one link (services → PostgreSQL, services → RabbitMQ). Tests and the
checker connect to the servers directly, so they see the truth while the services do not.
"""

import asyncio
import contextlib
import socket
import struct
from enum import StrEnum


class Link(StrEnum):
    #: Bytes flow both ways (after `delay_seconds`, if set).
    FORWARDING = "forwarding"
    #: New connections are refused and every open one is reset.
    CUT = "cut"
    #: Connections are accepted and kept, but no byte moves either way and none is closed:
    #: what a dead switch or a dropped route looks like to both ends.
    BLACK_HOLED = "black-holed"


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN, as a peer that crashed or a firewall would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, *, name: str = "") -> None:
        self.name = name or f"{target_host}:{target_port}"
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Set while bytes may move; a black hole clears it and every pump waits on it.
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.state = Link.FORWARDING
        self.delay_seconds = 0.0
        self.port = 0
        #: Connections accepted since the start, for the figures.
        self.accepted = 0

    async def start(self) -> "FaultProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        self.state = Link.CUT
        await self._close_server()
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()
        # Pumps held by an earlier black hole must see their sockets gone, not wait for ever.
        self._flowing.set()

    def black_hole(self) -> None:
        """Stop moving bytes on every connection, old and new, without closing any."""
        self.state = Link.BLACK_HOLED
        self._flowing.clear()

    def delay(self, seconds: float) -> None:
        """Hold every chunk `seconds` before passing it on (each direction, each chunk)."""
        self.delay_seconds = seconds

    async def restore(self) -> None:
        """Forward again, without delay. After a black hole, what the kernel buffered moves on,
        as TCP's retransmissions would deliver it once a route is back."""
        self.delay_seconds = 0.0
        self.state = Link.FORWARDING
        self._flowing.set()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self._writers.add(writer)
        try:
            # A black-holed link answers the SYN (the proxy's kernel does) and then nothing.
            await self._flowing.wait()
            if self.state is Link.CUT:
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
            except OSError:
                return
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pump(reader, upstream_writer), self._pump(upstream_reader, writer)
            )
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            _reset(writer)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                if self.delay_seconds:
                    await asyncio.sleep(self.delay_seconds)
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            _reset(writer)

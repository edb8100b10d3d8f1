"""A TCP proxy a test can cut and restore, to take a service "down" for one client only."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.engine import make_url

from shared.settings import Settings
from tests.processes import consumer_count, spawn, stop
from tests.support import eventually


class CuttableProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.port = 0
        self._trip_on: bytes | None = None
        #: Cleared while black-holed: bytes are swallowed, nothing is closed (no RST, no FIN),
        #: as a dead route or a firewall dropping packets looks to both ends.
        self._flowing = asyncio.Event()
        self._flowing.set()
        #: Local ports of the connections to the target, as the target sees its peers.
        self.upstream_ports: set[int] = set()
        #: Set when the trip wire cut the connections.
        self.tripped = asyncio.Event()

    def cut_when_sent(self, marker: bytes) -> None:
        """Cut (as `cut`) the moment a client sends bytes containing `marker` — e.g. a SQL
        statement's text, which the PostgreSQL protocol carries in clear — before they reach
        the server: the client loses its connection mid-transaction, at a chosen step."""
        self._trip_on = marker
        self.tripped.clear()

    async def start(self) -> "CuttableProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        """Refuse new connections and drop every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    def black_hole(self) -> None:
        """Drop every byte in both directions without closing anything."""
        self._flowing.clear()

    def let_flow(self) -> None:
        self._flowing.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.update({writer, upstream_writer})
        self.upstream_ports.add(upstream_writer.get_extra_info("sockname")[1])
        await asyncio.gather(
            self._pump(reader, upstream_writer, watch=True), self._pump(upstream_reader, writer)
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if watch and self._trip_on is not None and self._trip_on in data:
                    self._trip_on = None
                    self.tripped.set()
                    await self.cut()
                    return
                if not self._flowing.is_set():
                    continue
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._pipes.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()


@contextlib.asynccontextmanager
async def executor_behind_proxy(
    settings: Settings, *, ready_on: str
) -> AsyncIterator[CuttableProxy]:
    """A real executor process whose PostgreSQL connections go through a proxy the caller can
    cut; yielded once it consumes `ready_on`. Everything else in the test connects directly."""
    url = make_url(settings.database_url)
    proxy = await CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    via_proxy = settings.model_copy(
        update={"database_url": url.set(port=proxy.port).render_as_string(False)}
    )
    process = await spawn(via_proxy, "executor", DOCFLOW_WORKER_ID="executor-behind-proxy")
    try:
        await eventually(lambda: consumer_count(settings, ready_on), within=30)
        yield proxy
    finally:
        await stop(process)
        await proxy.cut()

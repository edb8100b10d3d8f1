"""The services as real processes, each link to PostgreSQL and RabbitMQ through a fault proxy.

Every process writes to its own log file under `log_dir`, so a failed scenario can say why; every
process started here is stopped here, however the scenario ends.
"""

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiohttp
from sqlalchemy.engine import make_url

from shared.broker.topology import Names
from shared.egress import LOOPBACK
from shared.settings import Settings
from tests.chaos.proxy import FaultProxy
from tests.processes import service_env
from tests.support import eventually

#: The services notice a black-holed broker after about three missed heartbeats (aiormq allows
#: (heartbeat + 1) * 3 seconds). At 1 s and at 2 s RabbitMQ dropped services whose start-up
#: held their event loop that long on the loaded 2-core machine ("missed heartbeats from
#: client"), and they exited.
HEARTBEAT_SECONDS = 3
READY_WITHIN = 60.0


def chaos_settings(
    database_url: str, amqp_url: str, queue_prefix: str, **extra: object
) -> Settings:
    """Fast timers so recovery is quick, and few connections: the machine's PostgreSQL is
    shared, and a scenario runs five or six services at once."""
    values: dict[str, object] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "queue_prefix": queue_prefix,
        "amqp_heartbeat_seconds": HEARTBEAT_SECONDS,
        # At 3 s, a busy shared machine let live executors' leases expire: the fenced runs
        # counted as interrupted, and e-mail nodes hit their limit of interruptions.
        "lease_seconds": 5.0,
        "scheduler_interval_seconds": 0.2,
        "outbox_relay_after_seconds": 1.0,
        "publish_timeout_seconds": 2.0,
        "stalled_resume_after_seconds": 5.0,
        # 32 runs at once on 3 (+3) connections kept executors' runs waiting for a connection
        # long enough to lose their leases under load (see ADR 013).
        "prefetch": 16,
        "delivery_limit": 5,
        "db_pool_size": 4,
        "shutdown_grace_seconds": 2.0,
        # The webhook receiver and the SMTP server of the scenarios listen on loopback.
        "egress_allow": LOOPBACK,
        "log_format": "json",
        "log_level": "WARNING",
    }
    values.update(extra)
    return Settings.model_validate(values)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Stack:
    #: Direct links: what the checker and the scenario's own set-up use.
    settings: Settings
    #: What the services get: every link through `pg` and `amqp`.
    service_settings: Settings
    pg: FaultProxy
    amqp: FaultProxy
    log_dir: Path
    http_port: int = field(default_factory=free_port)
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start(self, name: str, service: str, **env: str) -> asyncio.subprocess.Process:
        """Start `service` as process `name` (a name already running is an error)."""
        assert name not in self.processes or self.processes[name].returncode is not None, name
        settings = self.service_settings
        if service == "gateway":
            env.setdefault("DOCFLOW_HTTP_PORT", str(self.http_port))
        env.setdefault("DOCFLOW_WORKER_ID", name)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.cli",
                service,
                env=service_env(settings, **env),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    async def kill(self, name: str) -> None:
        """SIGKILL: no shutdown, no handing back; leases and unacknowledged messages stay."""
        process = self.processes[name]
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            await process.wait()

    async def stop_all(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    def died(self) -> list[str]:
        """Processes that exited on their own (not killed by the scenario)."""
        return [
            name
            for name, process in self.processes.items()
            if process.returncode is not None and process.returncode != -signal.SIGKILL
        ]

    async def consumers(self, logical_queue: str) -> int:
        connection = await aio_pika.connect(self.settings.amqp_url)
        try:
            channel = await connection.channel()
            name = Names(self.settings.queue_prefix).queue(logical_queue)
            queue = await channel.declare_queue(name, passive=True)
            return int(queue.declaration_result.consumer_count or 0)
        finally:
            await connection.close()

    async def wait_for_consumers(self, logical_queue: str, count: int) -> None:
        try:
            await eventually(
                lambda: self.consumers(logical_queue), lambda n: n >= count, within=READY_WITHIN
            )
        except AssertionError as e:
            raise AssertionError(f"{e}; exited: {self.died()}\n{self.log_tails(40)}") from e

    async def wait_for_gateway(self) -> None:
        async def healthy() -> bool:
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"{self.base_url}/healthz") as response,
                ):
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(healthy, within=READY_WITHIN, interval=0.2)

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for name in self.processes:
            path = self.log_dir / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)


@contextlib.asynccontextmanager
async def proxied_stack(settings: Settings, log_dir: Path) -> AsyncIterator[Stack]:
    """Proxies in front of PostgreSQL and RabbitMQ; the caller starts the services it needs."""
    db_url = make_url(settings.database_url)
    amqp_url = urlsplit(settings.amqp_url)
    pg = await FaultProxy(db_url.host or "127.0.0.1", db_url.port or 5432, name="postgres").start()
    amqp = await FaultProxy(
        amqp_url.hostname or "127.0.0.1", amqp_url.port or 5672, name="rabbitmq"
    ).start()
    credentials = amqp_url.netloc.rpartition("@")[0]
    via_amqp = urlunsplit(amqp_url._replace(netloc=f"{credentials}@127.0.0.1:{amqp.port}"))
    service_settings = settings.model_copy(
        update={
            "database_url": db_url.set(host="127.0.0.1", port=pg.port).render_as_string(False),
            "amqp_url": via_amqp,
        }
    )
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    stack = Stack(settings, service_settings, pg, amqp, log_dir)
    try:
        yield stack
    finally:
        await stack.stop_all()
        await pg.close()
        await amqp.close()

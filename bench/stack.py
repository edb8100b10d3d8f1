"""The services as real processes: one gateway, N executors, one scheduler (and, when asked,
one notifier printing e-mails to its log: no SMTP server is configured).

Each process writes its output to its own log file, so a failed run can show why. Every process
started here is stopped here (SIGTERM, then SIGKILL), however the run ends.
"""

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import aiohttp
from target import Target, consumer_count

from shared.broker.topology import EMAIL, RUN

REPO_ROOT = Path(__file__).resolve().parent.parent
#: How long the stack may take to come up (imports, broker declarations, migrations are done).
READY_WITHIN_SECONDS = 60.0
STOP_WITHIN_SECONDS = 15.0


@dataclass
class Service:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    base_url: str
    services: list[Service]

    @property
    def sampled_services(self) -> list[Service]:
        """What profiling looks at: one executor (they run the same code) and the gateway."""
        return [s for s in self.services if s.name in ("executor-0", "gateway")]

    def check(self) -> None:
        """Raise when a service has exited: a run without it would only time out."""
        for service in self.services:
            if service.process.returncode is not None:
                raise ServiceDied(service)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(target: Target, **overrides: str) -> dict[str, str]:
    # The bench's own DOCFLOW_* variables must not leak into the services it measures.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env.update(
        DOCFLOW_DATABASE_URL=target.database_url,
        DOCFLOW_AMQP_URL=target.amqp_url,
        DOCFLOW_QUEUE_PREFIX=target.queue_prefix,
        DOCFLOW_LOG_LEVEL="WARNING",
        # A benchmark is one client address sending as fast as it can: the per-address
        # limits would answer 429 and measure themselves instead.
        DOCFLOW_RATE_LIMIT_API_PER_SECOND="0",
        DOCFLOW_RATE_LIMIT_PAGES_PER_SECOND="0",
        DOCFLOW_RATE_LIMIT_WEBHOOKS_PER_SECOND="0",
    )
    env.update(overrides)
    return env


def _open_log(path: Path) -> BinaryIO:
    return path.open("wb")


async def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Service:
    log_path = log_dir / f"{name}.log"
    log = _open_log(log_path)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    finally:
        log.close()  # the child holds its own copy of the descriptor
    return Service(name=name, process=process, log_path=log_path)


async def stop(service: Service) -> None:
    process = service.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_WITHIN_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def cli(*args: str, cprofile_to: Path | None = None) -> list[str]:
    if cprofile_to is None:
        return [sys.executable, "-m", "services.cli", *args]
    return [sys.executable, "-m", "cProfile", "-o", str(cprofile_to), "-m", "services.cli", *args]


@contextlib.asynccontextmanager
async def running_stack(
    target: Target,
    *,
    executors: int,
    prefetch: int | None,
    log_dir: Path,
    cprofile_to: Path | None,
    notifier: bool = False,
) -> AsyncIterator[Stack]:
    """Start the services, wait until they serve and consume, and stop them all at the end."""
    port = free_port()
    extra = {"DOCFLOW_PREFETCH": str(prefetch)} if prefetch else {}
    services: list[Service] = []
    try:
        services.append(
            await spawn(
                "gateway", cli("gateway"), service_env(target, DOCFLOW_HTTP_PORT=str(port)), log_dir
            )
        )
        for i in range(executors):
            argv = cli("executor", cprofile_to=cprofile_to if i == 0 else None)
            env = service_env(target, DOCFLOW_WORKER_ID=f"bench-executor-{i}", **extra)
            services.append(await spawn(f"executor-{i}", argv, env, log_dir))
        services.append(await spawn("scheduler", cli("scheduler"), service_env(target), log_dir))
        if notifier:
            services.append(await spawn("notifier", cli("notifier"), service_env(target), log_dir))
        stack = Stack(base_url=f"http://127.0.0.1:{port}", services=services)
        await _wait_until_ready(stack, target, executors, notifier=notifier)
        yield stack
    finally:
        await asyncio.gather(*(stop(service) for service in services))


async def _wait_until_ready(
    stack: Stack, target: Target, executors: int, *, notifier: bool
) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    async with aiohttp.ClientSession() as http:
        while True:
            stack.check()
            if (
                await _ready(http, stack)
                and await consumer_count(target, RUN) >= executors
                and (not notifier or await consumer_count(target, EMAIL) >= 1)
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"services not ready within {READY_WITHIN_SECONDS:.0f}s")
            await asyncio.sleep(0.2)


async def _ready(http: aiohttp.ClientSession, stack: Stack) -> bool:
    try:
        async with http.get(f"{stack.base_url}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


class ServiceDied(RuntimeError):
    def __init__(self, service: Service) -> None:
        super().__init__(
            f"{service.name} exited with code {service.process.returncode}; "
            f"last lines of {service.log_path}:\n{service.log_tail()}"
        )
        self.service = service

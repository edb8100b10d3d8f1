"""Services as real operating-system processes, for crash and multi-process tests."""

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator

import aio_pika

from shared.broker.topology import Names
from shared.settings import Settings
from tests.support import eventually

AMQP_URL = os.environ.get("DOCFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def service_env(settings: Settings, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    for name in settings.model_fields_set | {"database_url", "amqp_url", "queue_prefix"}:
        env[f"DOCFLOW_{name.upper()}"] = str(getattr(settings, name))
    env.update(overrides)
    return env


async def spawn(settings: Settings, service: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        service,
        env=service_env(settings, **env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=None,
    )


async def consumer_count(settings: Settings, logical_queue: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            Names(settings.queue_prefix).queue(logical_queue), passive=True
        )
        return int(queue.declaration_result.consumer_count or 0)
    finally:
        await connection.close()


async def stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), timeout=15)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def executor_processes(
    settings: Settings, count: int, logical_queue: str = "executions.run"
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Start `count` executor processes and wait until each consumes `logical_queue`."""
    processes = [
        await spawn(settings, "executor", DOCFLOW_WORKER_ID=f"executor-{i}") for i in range(count)
    ]
    try:
        await eventually(
            lambda: consumer_count(settings, logical_queue), lambda n: n >= count, within=30
        )
        yield processes
    finally:
        for process in processes:
            await stop(process)

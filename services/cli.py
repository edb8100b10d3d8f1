"""The `docflow` command. It only composes: settings, logging, resources, services."""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import structlog

from services.client.main import CLIENT_COMMANDS, add_client_commands, run_client_command
from services.lifecycle import (
    Readiness,
    freeze_startup_objects,
    serving,
    wait_for_stop,
    worker_side_app,
)
from shared.db.migrate import upgrade
from shared.logging import configure_logging
from shared.runtime import Resources, open_resources
from shared.settings import Settings

log = structlog.get_logger(__name__)

#: Exit status of a service whose background loop died: its supervisor restarts it.
EXIT_LOOP_DIED = 70


class Worker(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def _executor(resources: Resources) -> Worker:
    from services.executor.worker import ExecutorWorker

    return ExecutorWorker(resources)


def _notifier(resources: Resources) -> Worker:
    from services.notifier.worker import Notifier

    return Notifier(resources)


def _scheduler(resources: Resources) -> Worker:
    from services.scheduler.worker import Scheduler

    return Scheduler(resources)


WORKERS: dict[str, Callable[[Resources], Worker]] = {
    "executor": _executor,
    "notifier": _notifier,
    "scheduler": _scheduler,
}


@contextlib.asynccontextmanager
async def running(workers: list[Worker]) -> AsyncIterator[None]:
    started: list[Worker] = []
    try:
        for worker in workers:
            await worker.start()
            started.append(worker)
        yield
    finally:
        for worker in reversed(started):
            await worker.stop()


async def run_worker(settings: Settings, name: str) -> int:
    """Run one worker until SIGTERM/SIGINT; then readiness turns false, the worker stops
    gracefully while /metrics and /readyz still answer, and only then does the process exit."""
    readiness = Readiness()
    async with open_resources(settings) as resources:
        side_door = (
            serving(
                worker_side_app(resources, readiness), settings.http_host, settings.metrics_port
            )
            if settings.metrics_port
            else contextlib.nullcontext()
        )
        async with side_door, running([WORKERS[name](resources)]):
            freeze_startup_objects()
            log.info("service_started", service=name)
            died = await wait_for_stop(resources)
            readiness.stopping = True
            log.info("service_stopping", service=name, reason=died or "signal")
    log.info("service_stopped", service=name)
    return 0 if died is None else EXIT_LOOP_DIED


async def run_gateway(settings: Settings) -> int:
    from services.gateway.app import create_app
    from services.gateway.keys import READINESS

    async with open_resources(settings) as resources:
        app = create_app(resources)
        async with serving(
            app, settings.http_host, settings.http_port, reuse_port=settings.http_reuse_port
        ):
            freeze_startup_objects()
            log.info("service_started", service="gateway")
            died = await wait_for_stop(resources)
            # Readiness first; leaving `serving` then ends live streams and lets open
            # requests finish.
            app[READINESS].stopping = True
            log.info("service_stopping", service="gateway", reason=died or "signal")
    log.info("service_stopped", service="gateway")
    return 0 if died is None else EXIT_LOOP_DIED


async def create_key(settings: Settings, workspace: str) -> str:
    from shared.api_keys import create_api_key

    async with open_resources(settings, pool_size=1, start_broker=False) as resources:
        _, key = await create_api_key(resources.sessions, workspace)
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="docflow", description="DocFlow workflow engine")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("gateway", help="HTTP API, webhooks, approval pages, /metrics")
    commands.add_parser("executor", help="claims and runs executions")
    commands.add_parser("notifier", help="sends e-mail")
    commands.add_parser("scheduler", help="timers, expiries, lease sweeps, outbox relay")
    commands.add_parser("migrate", help="upgrade the database to the newest schema")
    commands.add_parser("dev", help="everything in one process on SQLite and an in-process broker")
    api_key = commands.add_parser("api-key", help="manage API keys")
    api_key_commands = api_key.add_subparsers(dest="api_key_command", required=True)
    create = api_key_commands.add_parser("create", help="create a key and print it")
    create.add_argument("--workspace", required=True, help="workspace name (created if new)")
    add_client_commands(commands)
    args = parser.parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        # The client talks HTTP to a gateway: it needs none of the services' settings.
        return run_client_command(args)

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command != "migrate" and settings.is_embedded_database:
        # The embedded database is created on first use, so one command is enough to start.
        upgrade(settings.database_url)
    if args.command == "migrate":
        upgrade(settings.database_url)
        print("database is at the newest schema", file=sys.stderr)
    elif args.command == "api-key":
        print(asyncio.run(create_key(settings, args.workspace)))
    elif args.command == "gateway":
        return asyncio.run(run_gateway(settings))
    elif args.command == "dev":
        return asyncio.run(_dev(settings))
    else:
        return asyncio.run(run_worker(settings, args.command))
    return 0


async def _dev(settings: Settings) -> int:
    from services.dev import run_dev

    return await run_dev(settings)


if __name__ == "__main__":
    raise SystemExit(main())

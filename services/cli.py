"""The `docflow` command. It only composes: settings, logging, resources, services."""

import argparse
import asyncio
import contextlib
import sys

import structlog

from services.client.main import CLIENT_COMMANDS, add_client_commands, run_client_command
from services.lifecycle import (
    Readiness,
    listening_urls,
    serving,
    settle_garbage_collection,
    wait_for_stop,
    worker_side_app,
)
from services.workers import EXIT_LOOP_DIED, WORKERS, running
from shared.db.migrate import upgrade
from shared.logging import configure_logging
from shared.runtime import open_resources
from shared.settings import Settings

log = structlog.get_logger(__name__)


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
            settle_garbage_collection()
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
        ) as runner:
            settle_garbage_collection()
            log.info(
                "service_started",
                service="gateway",
                listening=listening_urls(runner),
                public_url=settings.public_url,
            )
            died = await wait_for_stop(resources)
            # Readiness first; leaving `serving` then ends live streams and lets open
            # requests finish.
            app[READINESS].stopping = True
            log.info("service_stopping", service="gateway", reason=died or "signal")
    log.info("service_stopped", service="gateway")
    return 0 if died is None else EXIT_LOOP_DIED


async def create_key(
    settings: Settings,
    workspace: str,
    name: str | None = None,
    expires_in_days: float | None = None,
) -> str:
    from datetime import timedelta

    from shared.api_keys import create_api_key
    from shared.db.types import utcnow

    expires_at = None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days)
    async with open_resources(settings, pool_size=1, start_broker=False) as resources:
        _, key = await create_api_key(
            resources.sessions, workspace, name=name, expires_at=expires_at
        )
    return key


async def list_keys(settings: Settings, workspace: str) -> str:
    """One line per key of the workspace, never the key: id, prefix, state, dates, name."""
    from sqlalchemy import select

    from shared.api_keys import list_keys as keys_of
    from shared.db.tables import Workspace

    def when(value: object) -> str:
        return "-" if value is None else str(value)[:19]

    async with (
        open_resources(settings, pool_size=1, start_broker=False) as resources,
        resources.sessions() as session,
    ):
        workspace_id = await session.scalar(select(Workspace.id).where(Workspace.name == workspace))
        if workspace_id is None:
            raise SystemExit(f"error: no workspace {workspace!r}")
        keys = await keys_of(session, workspace_id)
    lines = ["id\tprefix\tstate\tcreated\texpires\tlast used\tname"]
    for key in keys:
        state = "revoked" if key.revoked_at else "active"
        lines.append(
            f"{key.id}\t{key.prefix}…\t{state}\t{when(key.created_at)}\t"
            f"{when(key.expires_at)}\t{when(key.last_used_at)}\t{key.name or ''}"
        )
    return "\n".join(lines)


async def revoke_key(settings: Settings, key_id: str) -> str:
    import uuid

    from shared.api_keys import revoke_key as revoke
    from shared.errors import NotFound

    try:
        identifier = uuid.UUID(key_id)
    except ValueError:
        raise SystemExit(f"error: {key_id!r} is not a key id (see docflow api-key list)") from None
    async with open_resources(settings, pool_size=1, start_broker=False) as resources:
        try:
            async with resources.sessions.begin() as session:
                info, _ = await revoke(session, None, identifier)
        except NotFound as e:
            raise SystemExit(f"error: {e}") from e
    seconds = settings.auth_cache_seconds
    return f"revoked {info.id} ({info.prefix}…); gateways refuse it within {seconds:g} s"


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
    create.add_argument("--name", help="what the key is for")
    create.add_argument("--expires-in-days", type=float, help="refused after this many days")
    listing = api_key_commands.add_parser("list", help="the workspace's keys, without secrets")
    listing.add_argument("--workspace", required=True, help="workspace name")
    revoking = api_key_commands.add_parser("revoke", help="revoke a key by its id")
    revoking.add_argument("key_id", help="the key's id, from `docflow api-key list`")
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
        if settings.secret_key:
            sealed = asyncio.run(seal_secrets(settings))
            print(
                f"sealed the plain-text node secrets of {sealed} workflow versions", file=sys.stderr
            )
    elif args.command == "api-key":
        print(asyncio.run(_api_key_command(settings, args)))
    elif args.command == "gateway":
        return asyncio.run(run_gateway(settings))
    elif args.command == "dev":
        return asyncio.run(_dev(settings))
    else:
        return asyncio.run(run_worker(settings, args.command))
    return 0


async def seal_secrets(settings: Settings) -> int:
    from shared.connections.crypto import Sealer
    from shared.db.seal_secrets import seal_plain_secrets
    from shared.nodes.registry import build_config_registry

    async with open_resources(settings, pool_size=1, start_broker=False) as resources:
        return await seal_plain_secrets(
            resources.sessions, build_config_registry(), Sealer(settings.secret_key)
        )


async def _api_key_command(settings: Settings, args: argparse.Namespace) -> str:
    if args.api_key_command == "list":
        return await list_keys(settings, args.workspace)
    if args.api_key_command == "revoke":
        return await revoke_key(settings, args.key_id)
    return await create_key(settings, args.workspace, args.name, args.expires_in_days)


async def _dev(settings: Settings) -> int:
    from services.dev import run_dev

    return await run_dev(settings)


if __name__ == "__main__":
    raise SystemExit(main())

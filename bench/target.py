"""Where one benchmark run lives: its own database and queue prefix, removed afterwards."""

import argparse
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg

from shared.broker.topology import WORK_QUEUES, Names
from shared.egress import LOOPBACK
from shared.settings import Settings


@dataclass(frozen=True)
class Target:
    pg_host: str
    pg_port: int
    pg_user: str
    amqp_url: str
    database: str
    queue_prefix: str

    def dsn(self, database: str | None = None) -> str:
        """Plain asyncpg DSN; the admin database when asked for `postgres`."""
        name = database or self.database
        return f"postgresql://{self.pg_user}@{self.pg_host}:{self.pg_port}/{name}"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL the services are given."""
        return f"postgresql+asyncpg://{self.pg_user}@{self.pg_host}:{self.pg_port}/{self.database}"

    def settings(self) -> Settings:
        return Settings.model_validate(
            {
                "database_url": self.database_url,
                "amqp_url": self.amqp_url,
                "queue_prefix": self.queue_prefix,
                "log_level": "WARNING",
                # The fake providers and webhook receivers listen on loopback.
                "egress_allow": LOOPBACK,
            }
        )


def add_target_args(add: Callable[..., Any]) -> None:
    """The options saying where PostgreSQL and RabbitMQ are, for every benchmark script."""
    add("--pg-host", default="127.0.0.1")
    add("--pg-port", type=int, default=5432)
    add("--pg-user", default="postgres")
    add("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")


def target_for(args: argparse.Namespace, name: str) -> Target:
    """A run of benchmark `name`: its own database and queue prefix, unique per run."""
    run = uuid.uuid4().hex[:8]
    return Target(
        pg_host=args.pg_host,
        pg_port=args.pg_port,
        pg_user=args.pg_user,
        amqp_url=args.amqp_url,
        database=f"docflow_bench_{name}_{run}",
        queue_prefix=f"bench-{name}-{run}.",
    )


@contextlib.contextmanager
def log_folder(name: str, keep_in: Path | None) -> Iterator[Path]:
    """A temporary folder for the services' logs, copied to `keep_in` when one is given —
    also when the run fails, which is when the logs are wanted."""
    with tempfile.TemporaryDirectory(prefix=f"docflow-bench-{name}-") as logs:
        try:
            yield Path(logs)
        finally:
            if keep_in is not None:
                shutil.copytree(logs, keep_in, dirs_exist_ok=True)


@contextlib.asynccontextmanager
async def own_database(target: Target) -> AsyncIterator[None]:
    """Create the run's database, and drop it however the run ends."""
    await _admin(f'CREATE DATABASE "{target.database}"', target)
    try:
        yield
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)', target)


async def _admin(statement: str, target: Target) -> None:
    connection = await asyncpg.connect(target.dsn("postgres"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def connected(target: Target) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(target.dsn())
    try:
        yield connection
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def own_queues(target: Target) -> AsyncIterator[None]:
    """The services declare the run's queues; this deletes them, and the exchanges, at the end."""
    try:
        yield
    finally:
        await delete_queues(target)


async def delete_queues(target: Target) -> None:
    names = Names(target.queue_prefix)
    connection = await aio_pika.connect(target.amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        for logical in WORK_QUEUES:
            await channel.queue_delete(names.queue(logical))
            await channel.queue_delete(names.dead_letter_queue(logical))
        await channel.exchange_delete(names.events_exchange)
        await channel.exchange_delete(names.dead_letter_exchange)
    finally:
        await connection.close()


async def consumer_count(target: Target, logical_queue: str) -> int:
    """Consumers on a queue, or 0 while nobody has declared it yet."""
    connection = await aio_pika.connect(target.amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(
                Names(target.queue_prefix).queue(logical_queue), passive=True
            )
        except aio_pika.exceptions.ChannelClosed:
            return 0
        return int(queue.declaration_result.consumer_count or 0)
    finally:
        await connection.close()


async def queue_depth(target: Target, logical_queue: str) -> int:
    """Messages ready on a queue (not counting those delivered and not yet acknowledged)."""
    connection = await aio_pika.connect(target.amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            Names(target.queue_prefix).queue(logical_queue), passive=True
        )
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()

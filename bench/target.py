"""Where one benchmark run lives: its own database and queue prefix, removed afterwards."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import asyncpg

from shared.broker.topology import WORK_QUEUES, Names
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
            }
        )


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

"""A database and a queue prefix of its own for `python -m tests.chaos`, removed afterwards
(under pytest the suite's fixtures provide them)."""

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
from cryptography.fernet import Fernet

from shared.broker.topology import WORK_QUEUES, Names
from shared.db.migrate import upgrade
from shared.settings import Settings
from tests.chaos.stack import chaos_settings

PG_HOST = os.environ.get("DOCFLOW_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DOCFLOW_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("DOCFLOW_TEST_PG_USER", "postgres")
AMQP_URL = os.environ.get("DOCFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def delete_queues(amqp_url: str, prefix: str) -> None:
    names = Names(prefix)
    connection = await aio_pika.connect(amqp_url, timeout=5)
    try:
        channel = await connection.channel()
        for logical in WORK_QUEUES:
            await channel.queue_delete(names.queue(logical))
            await channel.queue_delete(names.dead_letter_queue(logical))
        await channel.exchange_delete(names.events_exchange)
        await channel.exchange_delete(names.dead_letter_exchange)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def private_environment(*, keep: bool = False) -> AsyncIterator[Settings]:
    """A freshly migrated database and a unique queue prefix; both removed at the end unless
    `keep` (to look into a failure)."""
    name = f"docflow_chaos_{uuid.uuid4().hex[:10]}"
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    prefix = f"chaos-{uuid.uuid4().hex[:10]}."
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await asyncio.to_thread(upgrade, url)
        yield chaos_settings(url, AMQP_URL, prefix, secret_key=Fernet.generate_key().decode())
    finally:
        if keep:
            print(f"kept database {name} and queues {prefix}*")
        else:
            with contextlib.suppress(Exception):
                await delete_queues(AMQP_URL, prefix)
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

import asyncio

import pytest
from alembic import command
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import create_engine
from shared.db.migrate import alembic_config
from shared.db.tables import EmailDelivery
from shared.settings import Settings


async def tables(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def insert_delivery(connection: AsyncConnection, key: str) -> None:
    await connection.execute(
        insert(EmailDelivery).values(
            idempotency_key=key,
            recipients={"to": ["a@example.com"], "cc": [], "bcc": []},
            subject="Contract",
            message_id="<x@docflow>",
        )
    )


async def test_migration_0002_adds_email_deliveries_and_removes_it_again(
    settings: Settings,
) -> None:
    url = settings.database_url  # migrated to head by the fixture, on either backend
    assert "email_deliveries" in await tables(url)

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0001")
    assert "email_deliveries" not in await tables(url)
    assert "outbox" in await tables(url)

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0002")
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await insert_delivery(connection, "exec-1:mail")
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await insert_delivery(connection, "exec-1:mail")
    finally:
        await engine.dispose()

import asyncio
import uuid

import pytest
from alembic import command
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.engine import create_engine
from shared.db.migrate import alembic_config
from shared.db.tables import EmailDelivery
from shared.settings import Settings
from tests.migrations import columns, schema_state


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


async def test_migration_0014_adds_the_claim_columns_as_the_models_say_and_removes_them_again(
    settings: Settings,
) -> None:
    url = settings.database_url  # at head, on either backend
    claim = {"claim_id", "claimed_at", "interruptions"}
    _, diffs = await schema_state(url, {"email_deliveries"})
    assert diffs == []
    assert claim <= await columns(url, "email_deliveries")

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0013")
    assert not claim & await columns(url, "email_deliveries")
    # Rows written before the migration count no interruptions.
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO email_deliveries (id, idempotency_key, recipients, subject,"
                    " status, attempts, message_id, created_at) VALUES ('"
                    + uuid.uuid4().hex
                    + "', 'old:mail', '{}', 'Old', 'sent', 1, '<old@docflow>', '2026-01-01')"
                )
            )
    finally:
        await engine.dispose()

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0014")
    _, diffs = await schema_state(url, {"email_deliveries"})
    assert diffs == []
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            old = await connection.scalar(
                text(
                    "SELECT interruptions FROM email_deliveries WHERE idempotency_key = 'old:mail'"
                )
            )
        assert old == 0
    finally:
        await engine.dispose()

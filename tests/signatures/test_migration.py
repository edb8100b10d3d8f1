"""Migrations 0005 (the signature tables) and 0010 (per-workspace accounts and cancellation)
match the models and undo cleanly."""

import asyncio

from alembic import command
from sqlalchemy import inspect

from shared.db.engine import create_engine
from shared.db.migrate import alembic_config
from shared.settings import Settings
from tests.migrations import assert_tables_round_trip


async def test_migration_0005_matches_the_models_and_downgrades_cleanly(
    settings: Settings,
) -> None:
    # At head, on either backend.
    await assert_tables_round_trip(
        settings.database_url,
        {"signature_requests", "signers", "signed_documents"},
        revision="0005",
        before="0004",
    )


async def _request_columns(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("signature_requests")}
            )
    finally:
        await engine.dispose()


async def test_migration_0010_adds_the_account_and_cancellation_columns_and_removes_them(
    settings: Settings,
) -> None:
    added = {
        "connection_id",
        "cancel_requested_at",
        "cancel_due_at",
        "cancel_attempts",
        "cancel_outcome",
        "cancelled_at",
        "cancel_answer",
    }
    url = settings.database_url
    assert await _request_columns(url) >= added
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0009")
    assert not await _request_columns(url) & added
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0010")
    assert await _request_columns(url) >= added

"""Migration 0016 adds `approvals.decided_by_key` as the model says, and removes it again."""

import asyncio

from alembic import command
from sqlalchemy import inspect

from shared.db.engine import create_engine
from shared.db.migrate import alembic_config
from shared.settings import Settings
from tests.migrations import schema_state


async def _columns(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("approvals")}
            )
    finally:
        await engine.dispose()


async def test_migration_0016_adds_the_deciding_key_as_the_model_says_and_removes_it_again(
    settings: Settings,
) -> None:
    url = settings.database_url  # at head (0016), on either backend
    _, diffs = await schema_state(url, {"approvals"})
    assert diffs == []
    assert "decided_by_key" in await _columns(url)

    # One step down: whatever revision 0016 follows.
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0015")
    assert "decided_by_key" not in await _columns(url)

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0016")
    _, diffs = await schema_state(url, {"approvals"})
    assert diffs == [] and "decided_by_key" in await _columns(url)

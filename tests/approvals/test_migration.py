"""Migration 0016 adds `approvals.decided_by_key` as the model says, and removes it again."""

import asyncio

from alembic import command

from shared.db.migrate import alembic_config
from shared.settings import Settings
from tests.migrations import columns, schema_state


async def test_migration_0016_adds_the_deciding_key_as_the_model_says_and_removes_it_again(
    settings: Settings,
) -> None:
    url = settings.database_url  # at head (0016), on either backend
    _, diffs = await schema_state(url, {"approvals"})
    assert diffs == []
    assert "decided_by_key" in await columns(url, "approvals")

    # One step down: whatever revision 0016 follows.
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0015")
    assert "decided_by_key" not in await columns(url, "approvals")

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0016")
    _, diffs = await schema_state(url, {"approvals"})
    assert diffs == [] and "decided_by_key" in await columns(url, "approvals")

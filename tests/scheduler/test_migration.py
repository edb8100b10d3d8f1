"""Migration 0018 adds the open waits' kind index the models describe, and removes it again."""

import asyncio

from alembic import command

from shared.db.migrate import alembic_config
from shared.settings import Settings
from tests.migrations import indexes, schema_state


async def test_migration_0018_adds_the_open_kinds_index_and_downgrades_cleanly(
    settings: Settings,
) -> None:
    url = settings.database_url  # at head, on either backend
    _, diffs = await schema_state(url, {"waits"})
    assert diffs == []
    assert "ix_waits_open_kind" in await indexes(url, "waits")

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0017")
    assert "ix_waits_open_kind" not in await indexes(url, "waits")
    assert "ix_waits_status_expires" in await indexes(url, "waits")

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0018")
    assert "ix_waits_open_kind" in await indexes(url, "waits")
    _, diffs = await schema_state(url, {"waits"})
    assert diffs == []

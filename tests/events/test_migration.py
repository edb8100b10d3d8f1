"""Migration 0013 creates exactly the tables the models describe, and removes them again."""

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared.db.engine import create_engine
from shared.db.migrate import alembic_config
from shared.db.tables import Base
from shared.settings import Settings

MINE = {"wait_events"}


def _touches_mine(diff: Any) -> bool:
    """A diff entry (or a list of column diffs) that concerns one of this migration's tables."""
    if isinstance(diff, list):
        return any(_touches_mine(d) for d in diff)
    for part in diff[1:]:
        table = getattr(part, "table", None)
        name = getattr(table, "name", None) or getattr(part, "name", None)
        if name in MINE or part in MINE:
            return True
    return False


async def _state(url: str) -> tuple[set[str], list[Any]]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:

            def read(sync: Any) -> tuple[set[str], list[Any]]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                diffs = [d for d in compare_metadata(context, Base.metadata) if _touches_mine(d)]
                return set(inspect(sync).get_table_names()), diffs

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def test_migration_0013_matches_the_models_and_downgrades_cleanly(
    settings: Settings,
) -> None:
    url = settings.database_url  # at head, on either backend
    tables, diffs = await _state(url)
    assert tables >= MINE
    assert diffs == []

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0012")
    tables, _ = await _state(url)
    assert not tables & MINE
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0013")
    tables, _ = await _state(url)
    assert tables >= MINE

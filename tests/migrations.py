"""A migration that creates tables: they match the models at head, go on downgrade, come back."""

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared.db.engine import create_engine
from shared.db.migrate import alembic_config
from shared.db.tables import Base


def _touches(diff: Any, tables: set[str]) -> bool:
    """A diff entry (or a list of column diffs) that concerns one of `tables`."""
    if isinstance(diff, list):
        return any(_touches(d, tables) for d in diff)
    for part in diff[1:]:
        table = getattr(part, "table", None)
        name = getattr(table, "name", None) or getattr(part, "name", None)
        if name in tables or part in tables:
            return True
    return False


async def schema_state(url: str, tables: set[str]) -> tuple[set[str], list[Any]]:
    """The database's table names, and how `tables` differ from the models."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:

            def read(sync: Any) -> tuple[set[str], list[Any]]:
                context = MigrationContext.configure(sync, opts={"compare_type": True})
                diffs = [d for d in compare_metadata(context, Base.metadata) if _touches(d, tables)]
                return set(inspect(sync).get_table_names()), diffs

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def assert_tables_round_trip(
    url: str, tables: set[str], *, revision: str, before: str
) -> None:
    """At head `tables` match the models; downgraded to `before` they are gone; upgraded to
    `revision` they are back."""
    present, diffs = await schema_state(url, tables)
    assert present >= tables
    assert diffs == []
    await asyncio.to_thread(command.downgrade, alembic_config(url), before)
    present, _ = await schema_state(url, tables)
    assert not present & tables
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)
    present, _ = await schema_state(url, tables)
    assert present >= tables


async def columns(url: str, table: str) -> set[str]:
    """The names of `table`'s columns in the database at `url`."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns(table)}
            )
    finally:
        await engine.dispose()


async def indexes(url: str, table: str) -> set[str]:
    """The names of `table`'s indexes in the database at `url`."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {str(i["name"]) for i in inspect(sync).get_indexes(table)}
            )
    finally:
        await engine.dispose()

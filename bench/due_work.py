"""The plans of the statements the scheduler and the notifier run on their own clock.

The statements come from one pass of their duties (services/periodic.py), run here in the
benchmark's process against its database, so the plans are those of what the services send.
"""

import asyncpg

from services.periodic import GROWING, Statement, selects_of_one_pass
from shared.runtime import open_resources
from shared.settings import Settings


async def captured(settings: Settings) -> list[Statement]:
    async with open_resources(settings, pool_size=1) as resources:
        return await selects_of_one_pass(resources)


async def explained(db: asyncpg.Connection, statement: Statement) -> list[str]:
    """EXPLAIN ANALYZE of `statement` in a transaction rolled back (it may lock rows)."""
    transaction = db.transaction()
    await transaction.start()
    try:
        rows = await db.fetch(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {statement.sql}",
            *statement.parameters,
        )
    finally:
        await transaction.rollback()
    return [row[0] for row in rows]


def scans_growing_table(plan: list[str]) -> list[str]:
    return [t for t in GROWING for text in plan if f"Seq Scan on {t} " in f"{text} "]

"""Migration 0013 creates exactly the tables the models describe, and removes them again."""

from shared.settings import Settings
from tests.migrations import assert_tables_round_trip


async def test_migration_0013_matches_the_models_and_downgrades_cleanly(
    settings: Settings,
) -> None:
    # At head, on either backend.
    await assert_tables_round_trip(
        settings.database_url, {"wait_events"}, revision="0013", before="0012"
    )

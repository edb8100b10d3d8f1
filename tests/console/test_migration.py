"""Migration 0015 creates exactly the table the model describes, and removes it again."""

from shared.settings import Settings
from tests.migrations import assert_tables_round_trip


async def test_migration_0015_matches_the_models_and_downgrades_cleanly(
    settings: Settings,
) -> None:
    await assert_tables_round_trip(
        settings.database_url, {"console_sessions"}, revision="0015", before="0014"
    )

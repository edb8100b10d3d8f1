"""A statement the client stopped waiting for stops on the server too: a client that gave up
drops its connection, and PostgreSQL would otherwise go on with work nobody waits for."""

import pytest
from sqlalchemy import text

from shared.db.engine import SERVER_TIMEOUT_MARGIN_SECONDS
from shared.runtime import open_resources
from shared.settings import Settings
from tests.support import eventually

BOUND_SECONDS = 0.5


async def test_a_statement_past_its_bound_is_cancelled_on_the_server(
    pg_settings: Settings,
) -> None:
    bounded = pg_settings.model_copy(update={"db_statement_timeout_seconds": BOUND_SECONDS})
    marker = "statement-bound-probe"
    async with open_resources(bounded, start_broker=False) as resources:
        with pytest.raises(TimeoutError):
            async with resources.engine.connect() as conn:
                await conn.execute(text(f"SELECT pg_sleep(30) /* {marker} */"))

        async def still_running() -> int:
            async with resources.engine.connect() as conn:
                found = await conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE state = 'active' AND query LIKE :probe AND pid <> pg_backend_pid()"
                    ),
                    {"probe": f"%pg_sleep(30) /* {marker}%"},
                )
                return int(found or 0)

        # Gone at the server's own bound, long before the 30 s the statement asked for.
        within = BOUND_SECONDS + SERVER_TIMEOUT_MARGIN_SECONDS + 3
        await eventually(still_running, lambda n: n == 0, within=within)

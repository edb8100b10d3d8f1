"""A connection that died under a statement is the database's momentary state: every error a
driver raises for it is transient, so consumers keep their message in hand (ADR 010)."""

import asyncpg
import pytest
import sqlalchemy
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.errors import is_transient


def _abort(connection: asyncpg.Connection) -> None:
    """Drop the socket under the driver, as a reset or a proxy's cut does."""
    connection._transport.abort()


async def test_every_error_of_a_raw_asyncpg_connection_that_died_is_transient(
    pg_database: str,
) -> None:
    url = make_url(pg_database)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    _abort(connection)
    errors = []
    for _ in range(2):  # the statement it died under, then the next one on it
        with pytest.raises(Exception) as raised:
            await connection.fetchval("SELECT 1")
        errors.append(raised.value)
    assert [type(e).__name__ for e in errors] == ["ConnectionDoesNotExistError", "InterfaceError"]
    assert all(is_transient(e) for e in errors)


async def test_every_error_of_a_pooled_connection_that_died_in_a_transaction_is_transient(
    pg_database: str,
) -> None:
    engine = create_async_engine(pg_database)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            _abort(raw.driver_connection)
            errors = []
            for _ in range(2):  # the statement it died under, then the transaction's next
                with pytest.raises(Exception) as raised:
                    await connection.execute(sqlalchemy.text("SELECT 1"))
                errors.append(raised.value)
        assert [type(e).__name__ for e in errors] == ["DBAPIError", "PendingRollbackError"]
        assert all(is_transient(e) for e in errors)
    finally:
        await engine.dispose()


async def test_an_interface_error_that_is_a_bug_is_not_transient(pg_database: str) -> None:
    url = make_url(pg_database)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        with pytest.raises(asyncpg.InterfaceError) as raised:
            await connection.fetchval("SELECT $1::int", 1, 2)  # one argument too many
        assert not is_transient(raised.value)
    finally:
        await connection.close()

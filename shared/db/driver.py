"""One statement on a pooled connection's asyncpg driver, outside SQLAlchemy's execution layer.

The hot statements (checkpoints, claims, accepted runs, webhooks, decisions) go this way:
asyncpg prepares each statement once per connection and encodes its parameters itself, and a
statement sent outside an explicit transaction commits by itself — one round trip, no BEGIN,
no COMMIT. SQLAlchemy does not see these statements fail, so a connection that died under one
(a database restart) is taken out of the pool here, where SQLAlchemy would have done it.
"""

from typing import Any

import pydantic_core
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from shared.db import deadline


async def fetch(engine: AsyncEngine, sql: str, *args: Any) -> list[Any]:
    """The statement's rows (asyncpg records), within the request's deadline if one is set
    (`shared.db.deadline`)."""
    deadline.bound(None)
    # The pool's connection itself (raw_connection), not engine.connect(): no SQLAlchemy
    # Connection is built, begun and closed around a statement SQLAlchemy never sees. That
    # was a sixth of the caller's CPU per statement (`SELECT 1`: 185 against 155 µs).
    pooled = await engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert driver is not None
        # The connection's own bound (command_timeout), shortened to what the deadline left
        # after the checkout; asyncpg keeps that bound in its private configuration only.
        timeout = deadline.bound(driver._config.command_timeout)
        try:
            rows: list[Any] = await driver.fetch(sql, *args, timeout=timeout)
        except BaseException as e:
            # Closed under the statement, or timed out on a link that may be dead: either
            # way not a connection to hand to the next caller.
            if isinstance(e, TimeoutError):
                driver.terminate()  # at once: a polite close would wait out another timeout
            if driver.is_closed():
                await greenlet_spawn(pooled.invalidate)
            raise
    finally:
        # Back to the pool (its reset may talk to the connection: in SQLAlchemy's greenlet).
        await greenlet_spawn(pooled.close)
    return rows


async def fetchrow(engine: AsyncEngine, sql: str, *args: Any) -> Any:
    """The statement's first row, or None."""
    rows = await fetch(engine, sql, *args)
    return rows[0] if rows else None


def as_json(value: Any) -> str:
    """`value` as JSON text for a statement that reads it (`json_to_recordset`), with
    datetimes in ISO-8601 and UUIDs as strings, which PostgreSQL reads back exactly; pydantic
    models inside are written as their JSON form.

    pydantic-core's encoder, not json.dumps: it knows datetimes, UUIDs and models without a
    Python callback per value, which made json.dumps about six times slower on a checkpoint
    (25 against 4 µs), and a checkpoint is written per node.
    """
    return pydantic_core.to_json(value).decode()

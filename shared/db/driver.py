"""One statement on a pooled connection's asyncpg driver, outside SQLAlchemy's execution layer.

The hot statements (checkpoints, claims, accepted runs, webhooks, decisions) go this way:
asyncpg prepares each statement once per connection and encodes its parameters itself, and a
statement sent outside an explicit transaction commits by itself — one round trip, no BEGIN,
no COMMIT. SQLAlchemy does not see these statements fail, so a connection that died under one
(a database restart) is taken out of the pool here, where SQLAlchemy would have done it.
"""

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine


async def fetch(engine: AsyncEngine, sql: str, *args: Any) -> list[Any]:
    """The statement's rows (asyncpg records)."""
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        try:
            rows: list[Any] = await driver.fetch(sql, *args)
        except BaseException:
            if driver.is_closed():
                await connection.invalidate()
            raise
    return rows


async def fetchrow(engine: AsyncEngine, sql: str, *args: Any) -> Any:
    """The statement's first row, or None."""
    rows = await fetch(engine, sql, *args)
    return rows[0] if rows else None


def as_json(value: Any) -> str:
    """`value` as JSON text for a statement that reads it (`json_to_recordset`), with
    datetimes in ISO-8601 and UUIDs as strings, which PostgreSQL reads back exactly."""
    return json.dumps(value, default=_encoded)


def _encoded(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")

"""Database engine and sessions for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession


def create_engine(database_url: str, *, pool_size: int = 8) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        return _create_sqlite_engine(database_url)
    # No pre-ping: it costs three round trips per checkout on the per-node hot path. A connection
    # that died (a database restart) fails its first statement instead; SQLAlchemy then discards
    # it, and the message being handled is requeued and retried on a fresh connection.
    return create_async_engine(
        database_url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
    )


def _create_sqlite_engine(database_url: str) -> AsyncEngine:
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(database_url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers (the HTTP API) run beside the one writer; foreign keys are off by
        # default in SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

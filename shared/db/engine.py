"""Database engine and sessions for PostgreSQL (asyncpg) or SQLite (aiosqlite)."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

#: How much longer the server lets a statement run than the client waits for it: the client's
#: own timeout is the one a caller sees, with its reason.
SERVER_TIMEOUT_MARGIN_SECONDS = 1.0


def create_engine(
    database_url: str,
    *,
    pool_size: int = 8,
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
) -> AsyncEngine:
    """`connect_timeout` bounds opening a connection and waiting for a pooled one;
    `statement_timeout` bounds each statement, on the client. Without them a database that
    went silent (packets dropped, no reset) holds every caller until TCP gives up, minutes
    later: a gateway would hang instead of answering 503."""
    if database_url.startswith("sqlite"):
        return _create_sqlite_engine(database_url)
    connect_args: dict[str, Any] = {}
    pool_args: dict[str, Any] = {}
    if connect_timeout is not None:
        connect_args["timeout"] = connect_timeout
        pool_args["pool_timeout"] = connect_timeout
    if statement_timeout is not None:
        connect_args["command_timeout"] = statement_timeout
        # The same bound on the server, a moment later: a client that gave up drops its
        # connection, and without this the server went on with the statement nobody waited
        # for (scheduler passes piling up, minutes each, over a slow plan).
        server_ms = int((statement_timeout + SERVER_TIMEOUT_MARGIN_SECONDS) * 1000)
        connect_args["server_settings"] = {"statement_timeout": str(server_ms)}
    # No pre-ping: it costs three round trips per checkout on the per-node hot path. A connection
    # that died (a database restart) fails its first statement instead; SQLAlchemy then discards
    # it, and the message being handled is requeued and retried on a fresh connection.
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args=connect_args,
        **pool_args,
    )

    @event.listens_for(engine.sync_engine, "handle_error")
    def _timed_out_is_lost(context: ExceptionContext) -> None:
        # A statement that timed out left its connection mid-protocol on a link that may be
        # dead: drop it rather than hand it to the next caller.
        if isinstance(context.original_exception, TimeoutError):
            context.is_disconnect = True
            # Closed at once, not politely: SQLAlchemy's invalidation first asks asyncpg for a
            # graceful close, which waits out another timeout on a link that answers nothing.
            proxied = context.connection.connection if context.connection is not None else None
            driver = getattr(proxied, "driver_connection", None)
            if driver is not None:
                driver.terminate()

    return engine


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

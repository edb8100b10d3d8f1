"""What a running service holds: the database, the broker and the metrics registry.

`docflow dev` opens one of these and hands it to all four services, so they share one SQLite
engine and one in-process broker; a production service opens its own.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.broker import Broker, create_broker
from shared.db.engine import create_engine, session_factory
from shared.db.tables import Base
from shared.loops import LoopDeaths
from shared.metrics import Metrics
from shared.settings import Settings


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    broker: Broker
    metrics: Metrics
    #: Background loops that end unexpectedly report here, and the process stops.
    loop_deaths: LoopDeaths = field(default_factory=LoopDeaths)


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings, *, pool_size: int | None = None, start_broker: bool = True
) -> AsyncIterator[Resources]:
    # At most twice `db_pool_size` connections a process (8 kept, 8 more under load by
    # default): the hot writes are group-committed, so a busy process needs few connections,
    # and five services stay well inside PostgreSQL's default 100, with room for others.
    # SQLAlchemy configures every mapper on the first ORM use, which takes a few hundred ms of
    # CPU: done here, it is part of starting, not of the first requests or runs.
    Base.registry.configure()
    engine = create_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        connect_timeout=settings.db_connect_timeout_seconds,
        statement_timeout=settings.db_statement_timeout_seconds,
    )
    broker = create_broker(settings)
    try:
        if start_broker:
            await broker.start()
        yield Resources(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            broker=broker,
            metrics=Metrics(CollectorRegistry()),
        )
    finally:
        await broker.close()
        await engine.dispose()

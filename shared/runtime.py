"""What a running service holds: the database, the broker and the metrics registry.

`docflow dev` opens one of these and hands it to all four services, so they share one SQLite
engine and one in-process broker; a production service opens its own.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.broker import Broker, create_broker
from shared.db.engine import create_engine, session_factory
from shared.metrics import Metrics
from shared.settings import Settings


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    broker: Broker
    metrics: Metrics


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings, *, pool_size: int | None = None, start_broker: bool = True
) -> AsyncIterator[Resources]:
    # Every execution a worker holds may need a connection at once (a checkpoint, a heartbeat);
    # a pool smaller than that makes connections churn, each one a new TLS probe and login.
    size = pool_size if pool_size is not None else max(10, settings.prefetch + 4)
    engine = create_engine(settings.database_url, pool_size=size)
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

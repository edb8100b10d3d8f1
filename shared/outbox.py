"""The transactional outbox: a message staged with a change is published after the commit.

The process that committed publishes its own rows at once (`publish_staged`); the scheduler
relays whatever is left behind (`relay_stranded`), e.g. when the broker was down.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import BigInteger, Delete, Select, any_, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from shared.broker.base import Broker
from shared.db.tables import OutboxMessage
from shared.db.types import utcnow
from shared.errors import BrokerUnavailable
from shared.messages import Message, decode

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Staged:
    id: int
    queue: str
    message: Message


async def stage(session: AsyncSession | AsyncConnection, queue: str, message: Message) -> Staged:
    """Add a message to the outbox inside the caller's transaction."""
    row_id = await session.scalar(
        insert(OutboxMessage)
        .values(queue=queue, body=message.model_dump(mode="json"), created_at=utcnow())
        .returning(OutboxMessage.id)
    )
    assert row_id is not None
    return Staged(row_id, queue, message)


def delete_published(ids: Sequence[int], dialect: str) -> Delete:
    """The DELETE of outbox rows the broker confirmed. On PostgreSQL it is `= ANY(array)`: one
    statement text whatever the number of ids, so asyncpg prepares it once, where `IN (…)`
    would be a new statement (and a prepare round trip) for every list length."""
    if dialect == "postgresql":
        ids_param = bindparam("ids", list(ids), type_=postgresql.ARRAY(BigInteger))
        return delete(OutboxMessage).where(OutboxMessage.id == any_(ids_param))
    return delete(OutboxMessage).where(OutboxMessage.id.in_(ids))


async def publish_staged(
    sessions: async_sessionmaker[AsyncSession], broker: Broker, staged: Sequence[Staged]
) -> int:
    """Publish rows this process committed and delete those the broker confirmed.

    A failure leaves the rest for the scheduler's relay; it never raises.
    """
    published = await publish_in_order(broker, staged)
    await delete_confirmed(sessions.kw["bind"], published)
    return len(published)


async def delete_confirmed(engine: AsyncEngine, ids: Sequence[int]) -> None:
    """Delete outbox rows whose publish the broker confirmed. Never raises: a row left behind
    is published again by the relay, a duplicate consumers tolerate."""
    if not ids:
        return
    try:
        async with engine.connect() as connection:
            # One statement is atomic by itself: autocommit spares a BEGIN and a COMMIT, two
            # round trips of three.
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(delete_published(ids, engine.dialect.name))
    except Exception as e:
        log.warning("outbox_delete_failed", count=len(ids), error=repr(e))


async def publish_in_order(broker: Broker, staged: Sequence[Staged]) -> list[int]:
    """Publish until the broker refuses one; the outbox ids it confirmed, which the caller
    deletes (the rest are left for the scheduler's relay). Never raises."""
    published: list[int] = []
    for item in staged:
        try:
            await broker.publish(item.queue, item.message)
        except BrokerUnavailable as e:
            log.warning("outbox_publish_deferred", queue=item.queue, error=str(e))
            break
        published.append(item.id)
    return published


def stranded(older_than: timedelta, now: datetime) -> Select[int]:
    """The rows `relay_stranded` takes: older than `older_than` (younger ones are still in their
    publisher's hands)."""
    return select(OutboxMessage.id).where(OutboxMessage.created_at < now - older_than)


async def relay_stranded(
    sessions: async_sessionmaker[AsyncSession],
    broker: Broker,
    *,
    older_than: timedelta,
    batch: int = 100,
) -> int:
    """Publish outbox rows older than `older_than`. Rows are locked while published
    (SKIP LOCKED), so two schedulers never relay the same row."""
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                stranded(older_than, utcnow())
                .with_only_columns(OutboxMessage)
                .order_by(OutboxMessage.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
        done: list[int] = []
        for row in rows:
            try:
                message = decode(row.body)
            except Exception:
                log.error("outbox_row_undecodable", outbox_id=row.id)
                done.append(row.id)
                continue
            try:
                await broker.publish(row.queue, message)
            except BrokerUnavailable as e:
                log.warning("outbox_relay_deferred", error=str(e))
                break
            done.append(row.id)
        if done:
            await session.execute(delete_published(done, session.get_bind().dialect.name))
    if done:
        log.info("outbox_relayed", count=len(done))
    return len(done)

"""Recording webhooks on PostgreSQL: the ingestion hot path, many events per statement.

Finding each event's request, inserting the event into the inbox (ON CONFLICT DO NOTHING: a
redelivery inserts nothing) and staging its `signatures.events` message in the outbox are
data-modifying CTEs of ONE statement over arrays: one implicit transaction, one round trip and
one commit for every webhook that arrived while the previous statement was in flight (group
commit). An idle gateway writes an event alone, at once; a busy one writes them together, so
the database round trips, commits and pool checkouts per event fall as the load rises.

Every caller still waits for the commit that holds its event before it answers, so a 200 means
the event is durably recorded. A statement that fails (e.g. a body PostgreSQL's `json` refuses
but Python accepted, such as `NaN`) is retried event by event, so one bad webhook fails alone.
The general path in signature_webhooks.py does the same in a transaction (SQLite, and the rare
event found only by ZapSign's `external_id`); both write the same rows.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.broker.topology import SIGNATURES
from shared.esign.webhooks import ParsedEvent
from shared.messages import SignatureEvent
from shared.outbox import Staged

#: Events per statement at most; more wait for the next one.
BATCH = 200
#: Statements in flight at once: while one commits, the next batch is already gathering.
WRITERS = 2

Outcome = tuple[str, Staged | None]

# `n` numbers the input rows. The request is looked up per row with LIMIT 1 (a lateral index
# probe on (provider, provider_document_id)); rows are inserted in event-key order, so two
# statements inserting the same keys take their locks in one order and cannot deadlock.
RECORD_SQL = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
        WITH ORDINALITY AS i(provider, document_key, event_key, body, received_at, n)
), target AS (
    SELECT input.*, request.id AS request_id, request.workspace_id
    FROM input CROSS JOIN LATERAL (
        SELECT id, workspace_id FROM signature_requests
        WHERE provider = input.provider AND provider_document_id = input.document_key
        ORDER BY generation DESC
        LIMIT 1
    ) AS request
), event AS (
    INSERT INTO inbox (provider, event_key, workspace_id, payload, received_at)
    SELECT provider, event_key, workspace_id, body::json, received_at FROM target
    ORDER BY event_key
    ON CONFLICT (provider, event_key) DO NOTHING
    RETURNING id, provider, event_key
), message AS (
    INSERT INTO outbox (queue, body, created_at)
    SELECT $6, json_build_object(
        'schema_version', 1, 'type', 'signature.event', 'provider', target.provider,
        'inbox_id', event.id, 'request_id', target.request_id, 'payload', target.body::json
    ), target.received_at
    FROM event JOIN target USING (provider, event_key)
    RETURNING id, (body ->> 'inbox_id')::bigint AS inbox_id
)
SELECT target.n, target.request_id, event.id AS inbox_id, message.id AS outbox_id
FROM target
LEFT JOIN event USING (provider, event_key)
LEFT JOIN message ON message.inbox_id = event.id
"""


@dataclass
class _Pending:
    event: ParsedEvent
    body: str
    payload: dict[str, Any]
    received_at: datetime
    answer: asyncio.Future[Outcome]
    #: Deliveries of the same event in the same batch: they share this one's fate.
    repeats: list["_Pending"] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.event.provider, self.event.event_key


class InboxWriter:
    """Records verified webhooks, batching those that arrive together into one statement."""

    def __init__(self, engine: AsyncEngine, *, batch: int = BATCH, writers: int = WRITERS) -> None:
        self._engine = engine
        self._batch = batch
        self._writers = writers
        self._running = 0
        self._waiting: list[_Pending] = []
        self._tasks: set[asyncio.Task[None]] = set()
        #: Statements sent so far (their events / this = the mean batch).
        self.statements = 0

    async def record(
        self, event: ParsedEvent, body: str, payload: dict[str, Any], received_at: datetime
    ) -> Outcome:
        """(outcome, message to publish): accepted, duplicate, or unknown (no such request),
        once the statement holding the event committed; as `signature_webhooks.record`."""
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Pending(event, body, payload, received_at, answer))
        if self._running < self._writers:
            self._running += 1
            # A task, not an inline write: it starts on the next loop turn, by when the other
            # requests read in this turn have joined the batch.
            task = asyncio.get_running_loop().create_task(self._write_while_waiting())
            # The loop keeps only a weak reference to a task.
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await answer

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._batch]
                del self._waiting[: self._batch]
                try:
                    await self._write(batch)
                except BaseException as e:  # cancelled at shutdown: nobody may wait forever
                    for item in batch:
                        _settle(item, e)
                    raise
        finally:
            self._running -= 1

    async def _write(self, batch: list[_Pending]) -> None:
        leaders: dict[tuple[str, str], _Pending] = {}
        for item in batch:
            leader = leaders.setdefault(item.key, item)
            if leader is not item:
                leader.repeats.append(item)
        unique = list(leaders.values())
        outcomes: list[Outcome | BaseException]
        try:
            outcomes = list(await self._statement(unique))
        except Exception:
            # Find the event at fault: each is written alone, and only its own caller fails.
            outcomes = [await self._alone(item) for item in unique]
        for item, outcome in zip(unique, outcomes, strict=True):
            _settle(item, outcome)

    async def _alone(self, item: _Pending) -> Outcome | BaseException:
        try:
            return (await self._statement([item]))[0]
        except Exception as e:
            return e

    async def _statement(self, items: list[_Pending]) -> list[Outcome]:
        self.statements += 1
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            # The driver connection directly: asyncpg prepares the statement once per
            # connection and encodes the arrays itself; outside SQLAlchemy's transaction, the
            # statement commits by itself.
            rows = await raw.driver_connection.fetch(  # type: ignore[union-attr]  # asyncpg's connection is untyped here
                RECORD_SQL,
                [i.event.provider for i in items],
                [i.event.document_key for i in items],
                [i.event.event_key for i in items],
                [i.body for i in items],
                [i.received_at for i in items],
                SIGNATURES,
            )
        found = {int(row["n"]): row for row in rows}
        return [_outcome(item, found.get(n)) for n, item in enumerate(items, start=1)]


def _outcome(item: _Pending, row: Any) -> Outcome:
    if row is None:
        return "unknown", None
    if row["outbox_id"] is None:
        return "duplicate", None
    message = SignatureEvent(
        provider=item.event.provider,
        inbox_id=row["inbox_id"],
        request_id=uuid.UUID(str(row["request_id"])),
        payload=item.payload,
    )
    return "accepted", Staged(row["outbox_id"], SIGNATURES, message)


def _settle(item: _Pending, result: Outcome | BaseException) -> None:
    for waiting in (item, *item.repeats):
        if waiting.answer.done():  # its request was cancelled meanwhile
            continue
        if isinstance(result, BaseException):
            waiting.answer.set_exception(result)
        elif waiting is item or result[0] == "unknown":
            waiting.answer.set_result(result)
        else:
            # A repeat within the batch: its first delivery took the inbox key.
            waiting.answer.set_result(("duplicate", None))

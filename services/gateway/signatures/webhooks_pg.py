"""Recording webhooks on PostgreSQL: the ingestion hot path, many events per statement.

Finding each event's request, inserting the event into the inbox (ON CONFLICT DO NOTHING: a
redelivery inserts nothing) and staging its `signatures.events` message in the outbox are
data-modifying CTEs of ONE statement over arrays: one implicit transaction, one round trip and
one commit for every webhook that arrived while the previous statement was in flight (group
commit). An idle gateway writes an event alone, at once; a busy one writes them together, so
the database round trips, commits and pool checkouts per event fall as the load rises.

The batching is shared/group_commit.py's: every caller still waits for the commit that holds its
event before it answers, so a 200 means the event is durably recorded, and a statement that
fails is retried event by event, so one bad webhook fails alone.

The general path in webhooks.py does the same in a transaction (SQLite, and the rare
event found only by ZapSign's `external_id`); both write the same rows.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.broker.topology import SIGNATURES
from shared.db import driver
from shared.esign.webhooks import ParsedEvent
from shared.group_commit import GroupCommit
from shared.messages import SignatureEvent
from shared.outbox import Staged

Outcome = tuple[str, Staged | None]

# `n` numbers the input rows. The request is looked up per row with LIMIT 1 (a lateral index
# probe on (provider, provider_document_id)), and only among the requests of the account the
# webhook was verified for: its connection's, or (NULL) the settings account's. Rows are
# inserted in event-key order, so two statements inserting the same keys take their locks in
# one order and cannot deadlock.
RECORD_SQL = """
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $7::uuid[]
    ) WITH ORDINALITY AS i(provider, document_key, event_key, body, received_at, connection_id, n)
), target AS (
    SELECT input.*, request.id AS request_id, request.workspace_id
    FROM input CROSS JOIN LATERAL (
        SELECT id, workspace_id FROM signature_requests
        WHERE provider = input.provider AND provider_document_id = input.document_key
            AND connection_id IS NOT DISTINCT FROM input.connection_id
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
        'inbox_id', event.id, 'request_id', target.request_id, 'payload', target.body::json,
        'received_at', target.received_at
    ), target.received_at
    FROM event JOIN target USING (provider, event_key)
    RETURNING id, (body ->> 'inbox_id')::bigint AS inbox_id
)
SELECT target.n, target.request_id, event.id AS inbox_id, message.id AS outbox_id
FROM target
LEFT JOIN event USING (provider, event_key)
LEFT JOIN message ON message.inbox_id = event.id
"""


@dataclass(frozen=True)
class _Pending:
    event: ParsedEvent
    body: str
    payload: dict[str, Any]
    received_at: datetime
    connection_id: uuid.UUID | None

    @property
    def key(self) -> tuple[str, str]:
        return self.event.provider, self.event.event_key


class InboxWriter:
    """Records verified webhooks, those that arrive together in one statement."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._commits = GroupCommit(self._write, name="signature inbox")

    @property
    def statements(self) -> int:
        """Statements sent so far (events recorded / this = the mean batch)."""
        return self._commits.statements

    async def record(
        self,
        event: ParsedEvent,
        body: str,
        payload: dict[str, Any],
        received_at: datetime,
        connection_id: uuid.UUID | None = None,
    ) -> Outcome:
        """(outcome, message to publish): accepted, duplicate, or unknown (no such request of
        this account), once the statement holding the event committed; as
        `signature_webhooks.record`."""
        return await self._commits.submit(
            _Pending(event, body, payload, received_at, connection_id)
        )

    async def _write(self, items: Sequence[_Pending]) -> list[Outcome]:
        # Two deliveries of one event in one batch: only the first goes to the statement (the
        # inbox would keep one row, but both would join it); the other is its duplicate.
        first: dict[tuple[str, str], int] = {}
        for index, item in enumerate(items):
            first.setdefault(item.key, index)
        unique = [items[index] for index in first.values()]
        written = dict(zip(first, await self._statement(unique), strict=True))
        return [
            written[item.key] if first[item.key] == index else _repeat(written[item.key])
            for index, item in enumerate(items)
        ]

    async def _statement(self, items: list[_Pending]) -> list[Outcome]:
        rows = await driver.fetch(
            self._engine,
            RECORD_SQL,
            [i.event.provider for i in items],
            [i.event.document_key for i in items],
            [i.event.event_key for i in items],
            [i.body for i in items],
            [i.received_at for i in items],
            SIGNATURES,
            [i.connection_id for i in items],
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
        received_at=item.received_at,
    )
    return "accepted", Staged(row["outbox_id"], SIGNATURES, message)


def _repeat(first: Outcome) -> Outcome:
    """What a second delivery in the same batch gets: the first one took the inbox key."""
    return first if first[0] == "unknown" else ("duplicate", None)

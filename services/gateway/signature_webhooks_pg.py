"""Recording a webhook as ONE PostgreSQL statement: the ingestion hot path.

Finding the request, inserting the event into the inbox (ON CONFLICT DO NOTHING: a redelivery
inserts nothing) and staging its `signatures.events` message in the outbox are data-modifying
CTEs of one statement: one implicit transaction and one round trip, with no SQLAlchemy
statement building. The general path in signature_webhooks.py does the same in a transaction
(SQLite, and the rare event found only by ZapSign's `external_id`); both write the same rows.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.broker.topology import SIGNATURES
from shared.esign.webhooks import ParsedEvent
from shared.messages import SignatureEvent
from shared.outbox import Staged

RECORD_SQL = """
WITH target AS (
    SELECT id, workspace_id FROM signature_requests
    WHERE provider = $1 AND provider_document_id = $2
    ORDER BY generation DESC
    LIMIT 1
), event AS (
    INSERT INTO inbox (provider, event_key, workspace_id, payload, received_at)
    SELECT $1, $3, workspace_id, $4::json, $5 FROM target
    ON CONFLICT (provider, event_key) DO NOTHING
    RETURNING id
), message AS (
    INSERT INTO outbox (queue, body, created_at)
    SELECT $6, json_build_object(
        'schema_version', 1, 'type', 'signature.event', 'provider', $1::text,
        'inbox_id', event.id, 'request_id', target.id, 'payload', $4::json
    ), $5
    FROM event, target
    RETURNING id
)
SELECT target.id AS request_id, event.id AS inbox_id, message.id AS outbox_id
FROM target LEFT JOIN event ON true LEFT JOIN message ON true
"""


async def record_in_one_statement(
    engine: AsyncEngine, event: ParsedEvent, body: str, payload: dict[str, Any], now: datetime
) -> tuple[str, Staged | None]:
    """(outcome, message to publish), as `signature_webhooks.record` answers."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        # The driver connection directly: asyncpg prepares the statement once per connection.
        row = await raw.driver_connection.fetchrow(  # type: ignore[union-attr]  # asyncpg's connection is untyped here
            RECORD_SQL,
            event.provider,
            event.document_key,
            event.event_key,
            body,
            now,
            SIGNATURES,
        )
    if row is None:
        return "unknown", None
    if row["outbox_id"] is None:
        return "duplicate", None
    message = SignatureEvent(
        provider=event.provider,
        inbox_id=row["inbox_id"],
        request_id=uuid.UUID(str(row["request_id"])),
        payload=payload,
    )
    return "accepted", Staged(row["outbox_id"], SIGNATURES, message)

"""The inbox: provider events recorded once, whatever how often they are delivered."""

import uuid
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db.tables import InboxEvent
from shared.db.types import utcnow


async def record_event(
    session: AsyncSession | AsyncConnection,
    *,
    provider: str,
    event_key: str,
    payload: dict[str, Any],
    workspace_id: uuid.UUID | None = None,
) -> int | None:
    """Insert the event inside the caller's transaction; its id, or None for a duplicate.

    `ON CONFLICT DO NOTHING` makes concurrent deliveries of one event race safely: exactly one
    insert wins and the others see None, without an error that would abort the transaction.
    """
    bind = session if isinstance(session, AsyncConnection) else session.get_bind()
    insert = sqlite.insert if bind.dialect.name == "sqlite" else postgresql.insert
    statement = (
        insert(InboxEvent)
        .values(
            provider=provider,
            event_key=event_key,
            payload=payload,
            workspace_id=workspace_id,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_key"])
        .returning(InboxEvent.id)
    )
    inserted = await session.scalar(statement)
    return int(inserted) if inserted is not None else None

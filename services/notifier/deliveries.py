"""Delivery records: one row per idempotency key, locked while its e-mail is being sent.

A deferred key waits for its `next_attempt_at`; until then every copy of its message is
acknowledged without a try, and the notifier's retry timer publishes the stored `request` again
when it is due (retries.py), so a back-off never holds a worker or a connection.

The row lock is what makes "the same key is sent at most once" hold when copies of a message
are handled at the same time (several consumers, a redelivery): the second copy waits for the
first one's transaction and then finds the key `sent`. If the process dies mid-send, its
transaction rolls back, the broker redelivers, and the e-mail is sent again with the same
Message-ID. The price is one database connection held for the length of an SMTP exchange
(bounded by SMTP_TIMEOUT_SECONDS).
"""

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables import EmailDelivery
from shared.db.types import utcnow
from shared.messages import SendEmail

#: Long enough for a server's reason, short enough for a row.
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Attempt:
    delivery_id: uuid.UUID
    number: int


class Skipped(enum.Enum):
    #: The key was sent: the message is a duplicate, to be acknowledged.
    SENT = "sent"
    #: The key waits for its next try; the retry timer owns it until then.
    SCHEDULED = "scheduled"


async def begin_attempt(
    session: AsyncSession, message: SendEmail, *, message_id: str, now: datetime
) -> Attempt | Skipped:
    """Count one more attempt for the message's key and lock its row until the transaction ends.

    A key that `failed` before is tried again: only a new message can bring it back (a failed
    one is acknowledged), e.g. a retried node with corrected recipients.
    """
    recipients = {"to": message.to, "cc": message.cc, "bcc": message.bcc}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(EmailDelivery)
        .values(
            id=uuid.uuid4(),
            idempotency_key=message.idempotency_key,
            workspace_id=message.workspace_id,
            execution_id=message.execution_id,
            recipients=recipients,
            subject=message.subject,
            status="sending",
            attempts=0,
            message_id=message_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[EmailDelivery.idempotency_key])
    )
    row = (
        await session.execute(
            update(EmailDelivery)
            .where(
                EmailDelivery.idempotency_key == message.idempotency_key,
                EmailDelivery.status != "sent",
                or_(EmailDelivery.next_attempt_at.is_(None), EmailDelivery.next_attempt_at <= now),
            )
            .values(
                status="sending",
                attempts=EmailDelivery.attempts + 1,
                recipients=recipients,
                subject=message.subject,
                next_attempt_at=None,
                request=None,
            )
            .returning(EmailDelivery.id, EmailDelivery.attempts)
        )
    ).one_or_none()
    if row is not None:
        return Attempt(delivery_id=row.id, number=row.attempts)
    status = await session.scalar(
        select(EmailDelivery.status).where(EmailDelivery.idempotency_key == message.idempotency_key)
    )
    return Skipped.SENT if status == "sent" else Skipped.SCHEDULED


async def record_sent(
    session: AsyncSession,
    attempt: Attempt,
    *,
    at: datetime,
    transport: str,
    reply: str,
    note: str | None = None,
) -> None:
    """`last_error` keeps the error of an earlier try unless this one has something to say."""
    values: dict[str, Any] = {
        "status": "sent", "sent_at": at, "transport": transport, "server_reply": _clip(reply)
    }  # fmt: skip
    if note is not None:
        values["last_error"] = _clip(note)
    await _set(session, attempt, **values)


async def record_failed(
    session: AsyncSession, attempt: Attempt, reason: str, *, transport: str | None = None
) -> None:
    await _set(session, attempt, status="failed", last_error=_clip(reason), transport=transport)


async def record_deferred(
    session: AsyncSession,
    attempt: Attempt,
    reason: str,
    *,
    retry_at: datetime,
    request: dict[str, Any],
    transport: str | None = None,
) -> None:
    """Still `sending`: `request` is published again at `retry_at` for the next try."""
    await _set(
        session, attempt, last_error=_clip(reason), next_attempt_at=retry_at, request=request,
        transport=transport,
    )  # fmt: skip


async def _set(session: AsyncSession, attempt: Attempt, **values: object) -> None:
    await session.execute(
        update(EmailDelivery).where(EmailDelivery.id == attempt.delivery_id).values(**values)
    )


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]

"""Delivery records: one row per idempotency key; the row owns its e-mail once claimed.

A try is two transactions. The first *claims* the key: one more attempt, a fresh `claim_id`,
`claimed_at` and the broker message (`request`) are committed before the server is spoken to,
so a try leaves a trace whatever happens to the process. The second locks the row while it
still carries that claim, talks to the server and commits the outcome (`sent`, `failed`, or
deferred), which clears the claim. A claim found without an outcome, with nobody holding the row,
belongs to a try that was cut short (the process died, or lost its database, mid-send) — unless
it is younger than LIVE_CLAIM_GRACE_SECONDS: its try may be between its two transactions, and
the finder waits for it instead.

Such a try is the notifier's misfortune, not the e-mail's: it is moved from `attempts` to
`interruptions`, and the e-mail is put back in the queue as a fresh message (interruptions.py).
Whoever finds it — the redelivered message, usually at once, or the stuck-claim look for a
message that never came back — does that, so a crash never counts against the queue's
delivery limit more than once per copy, and no e-mail is dead-lettered for crashes alone.

A deferred key waits for its `next_attempt_at`; until then every copy of its message is
acknowledged without a try, and the notifier's retry timer publishes the stored `request` again
when it is due (retries.py), so a back-off never holds a worker or a connection.

The row lock held through the second transaction is what makes "the same key is sent at most
once" hold when copies of a message are handled at the same time (several consumers, a
redelivery): the second copy waits for the first one's outcome and then finds the key `sent`.
Only a try that reached the server and died before committing its outcome is repeated, with
the same Message-ID (at least once at the SMTP level). The price is one database connection
held for the length of an SMTP exchange (bounded by SMTP_TIMEOUT_SECONDS).
"""

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables import EmailDelivery
from shared.db.types import utcnow
from shared.messages import SendEmail
from shared.status import DeliveryStatus

#: Long enough for a server's reason, short enough for a row.
MAX_ERROR_CHARS = 2000

#: A claim younger than this may belong to a live try between its claim's commit and the lock
#: of its outcome's transaction (one round trip, normally): another copy of the message waits
#: and looks again rather than take it for cut short. A crash is noticed this much later.
LIVE_CLAIM_GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class Attempt:
    delivery_id: uuid.UUID
    #: The e-mail's own tries so far, this one included.
    number: int
    #: Whose try this is: the outcome is written only while the row still carries it.
    claim_id: uuid.UUID


@dataclass(frozen=True)
class CutShort:
    """An earlier try of the key was claimed and never came to an outcome."""

    delivery_id: uuid.UUID
    #: Tries cut short, that one included.
    interruptions: int


class Skipped(enum.Enum):
    #: The key was sent: the message is a duplicate, to be acknowledged.
    SENT = "sent"
    #: The key waits for its next try; the retry timer owns it until then.
    SCHEDULED = "scheduled"
    #: A try was claimed a moment ago and may be on its way: look again shortly.
    UNDER_WAY = "under_way"


async def claim(
    session: AsyncSession,
    message: SendEmail,
    *,
    request: dict[str, Any],
    message_id: str,
    now: datetime,
) -> Attempt | CutShort | Skipped:
    """Count one more attempt for the message's key and mark it under way; the caller commits
    before sending. `request` is the broker message that puts the e-mail back in the queue.

    Waits for a try under way elsewhere (its row lock) to end. A key that `failed` before is
    tried again: only a new message can bring it back (a failed one is acknowledged), e.g. a
    retried node with corrected recipients.
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
            status=DeliveryStatus.SENDING,
            attempts=0,
            interruptions=0,
            message_id=message_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[EmailDelivery.idempotency_key])
    )
    due = or_(EmailDelivery.next_attempt_at.is_(None), EmailDelivery.next_attempt_at <= now)
    recent = EmailDelivery.claimed_at > now - timedelta(seconds=LIVE_CLAIM_GRACE_SECONDS)
    row = (
        await session.execute(
            select(
                EmailDelivery.id,
                EmailDelivery.status,
                EmailDelivery.claim_id,
                EmailDelivery.interruptions,
                due.label("due"),
                recent.label("recent"),
            )
            .where(EmailDelivery.idempotency_key == message.idempotency_key)
            .with_for_update()
        )
    ).one()
    if row.status == DeliveryStatus.SENT:
        return Skipped.SENT
    if not row.due:
        return Skipped.SCHEDULED
    if row.status == DeliveryStatus.SENDING and row.claim_id is not None:
        if row.recent:
            return Skipped.UNDER_WAY
        # We hold the row, and its claim is not new: nobody is sending under it any more.
        return CutShort(row.id, row.interruptions + 1)
    claim_id = uuid.uuid4()
    attempts = (
        await session.execute(
            update(EmailDelivery)
            .where(EmailDelivery.id == row.id)
            .values(
                status=DeliveryStatus.SENDING,
                attempts=EmailDelivery.attempts + 1,
                recipients=recipients,
                subject=message.subject,
                next_attempt_at=None,
                request=request,
                claim_id=claim_id,
                claimed_at=now,
            )
            .returning(EmailDelivery.attempts)
        )
    ).scalar_one()
    return Attempt(delivery_id=row.id, number=attempts, claim_id=claim_id)


async def hold(session: AsyncSession, attempt: Attempt) -> bool:
    """Lock the row for the try's outcome; False when the claim is gone (another process took
    the try for cut short meanwhile and put the e-mail back in the queue): send nothing."""
    found = await session.scalar(
        select(EmailDelivery.id)
        .where(EmailDelivery.id == attempt.delivery_id, EmailDelivery.claim_id == attempt.claim_id)
        .with_for_update()
    )
    return found is not None


async def record_cut_short(session: AsyncSession, delivery_id: uuid.UUID) -> None:
    """Move the try that was cut short from `attempts` to `interruptions` and end its claim;
    the caller puts the e-mail back in the queue or records it failed."""
    await _set(
        session,
        delivery_id,
        attempts=EmailDelivery.attempts - 1,
        interruptions=EmailDelivery.interruptions + 1,
        claim_id=None,
        claimed_at=None,
    )


#: An outcome for good ends the claim, and the stored message is no longer needed.
_OVER: dict[str, Any] = {"claim_id": None, "claimed_at": None, "request": None}


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
        "status": DeliveryStatus.SENT,
        "sent_at": at,
        "transport": transport,
        "server_reply": _clip(reply),
    }
    if note is not None:
        values["last_error"] = _clip(note)
    await _set(session, attempt.delivery_id, **values, **_OVER)


async def record_failed(
    session: AsyncSession, delivery_id: uuid.UUID, reason: str, *, transport: str | None = None
) -> None:
    await _set(
        session,
        delivery_id,
        status=DeliveryStatus.FAILED,
        last_error=_clip(reason),
        transport=transport,
        **_OVER,
    )


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
        session, attempt.delivery_id, last_error=_clip(reason), next_attempt_at=retry_at,
        request=request, transport=transport, claim_id=None, claimed_at=None,
    )  # fmt: skip


async def _set(session: AsyncSession, delivery_id: uuid.UUID, **values: object) -> None:
    await session.execute(
        update(EmailDelivery).where(EmailDelivery.id == delivery_id).values(**values)
    )


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR_CHARS]

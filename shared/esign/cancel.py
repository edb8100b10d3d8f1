"""Cancelling a request at its provider when its run ended without it.

The transaction that ends the run (cancelled, failed) — or that expires the request's wait with
`on_timeout: fail` — marks the execution's open requests: status `cancelled` (an expired one
stays `expired`), `cancel_requested_at`, and `cancel_due_at = now`. The scheduler then takes
each due request (`take_due`) and calls the provider through the request's own account
(`cancel_once`). Taking it moves `cancel_due_at` past the time a try may last, in a
compare-and-set, so two schedulers (or a redelivered pass) never call twice; a try that died
with its process is taken again once that time passed. 429, 5xx and network errors are tried
again after a back-off that doubles; a refusal (already signed, closed, cancelled) is recorded
and ends it; so does the last allowed try.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.tables import SignatureRequest
from shared.db.types import utcnow
from shared.esign import store
from shared.esign.errors import ProviderError
from shared.esign.model import RequestStatus
from shared.esign.providers import Providers

log = structlog.get_logger(__name__)

#: Requests whose provider request may still be signed.
OPEN_STATUSES = (RequestStatus.CREATING.value, RequestStatus.PENDING.value)
#: Longest wait between two tries, whatever the back-off says.
MAX_BACKOFF_SECONDS = 3600.0
#: The provider's answer kept on the request (its body can be a whole document).
_ANSWER_CHARS = 2000


async def request_cancellation(
    conn: AsyncConnection, execution_id: uuid.UUID, *, reason: str, now: datetime | None = None
) -> None:
    """In the caller's transaction (the one ending the run): mark the execution's open
    requests cancelled, and due for cancelling at their provider."""
    now = now or utcnow()
    await conn.execute(
        update(SignatureRequest)
        .where(
            SignatureRequest.execution_id == execution_id,
            SignatureRequest.status.in_(OPEN_STATUSES),
            SignatureRequest.cancel_requested_at.is_(None),
        )
        .values(
            status=RequestStatus.CANCELLED.value,
            reason=reason[:2000],
            completed_at=now,
            updated_at=now,
            cancel_requested_at=now,
            cancel_due_at=now,
        )
    )


def due_cancellations(now: datetime) -> Select[uuid.UUID]:
    """The requests due for a try at their provider: due, and no outcome yet."""
    return select(SignatureRequest.id).where(
        SignatureRequest.cancel_due_at <= now, SignatureRequest.cancel_outcome.is_(None)
    )


async def due_requests(engine: AsyncEngine, batch: int) -> list[uuid.UUID]:
    async with engine.connect() as conn:
        ids = await conn.scalars(
            due_cancellations(utcnow()).order_by(SignatureRequest.cancel_due_at).limit(batch)
        )
        return list(ids)


async def take_due(
    engine: AsyncEngine, request_id: uuid.UUID, *, hold_seconds: float
) -> store.RequestRow | None:
    """The request, taken for one try (its attempt counted), or None when it is not due: another
    scheduler took it, it is waiting out a back-off, or it has its outcome."""
    now = utcnow()
    async with engine.begin() as conn:
        taken = await conn.scalar(
            update(SignatureRequest)
            .where(
                SignatureRequest.id == request_id,
                SignatureRequest.cancel_outcome.is_(None),
                SignatureRequest.cancel_due_at <= now,
            )
            .values(
                cancel_due_at=now + timedelta(seconds=hold_seconds),
                cancel_attempts=SignatureRequest.cancel_attempts + 1,
            )
            .returning(SignatureRequest.id)
        )
        if taken is None:
            return None
        return await store.load(conn, request_id)


async def cancel_once(
    engine: AsyncEngine,
    providers: Providers,
    request: store.RequestRow,
    *,
    max_attempts: int,
    initial_backoff_seconds: float,
) -> str | None:
    """One try at cancelling a request taken by `take_due`; its outcome, or None when it will
    be tried again."""
    if request.provider_request_id is None or request.provider_document_id is None:
        # No document at the provider (yet), so nothing anyone could sign: a creation still
        # going on that records one later puts the request back in line (store.save_creation).
        await _record(engine, request.id, "nothing_to_cancel", None)
        return "nothing_to_cancel"
    reason = request.reason or "cancelled by DocFlow: the run ended"
    try:
        answer = await providers.cancel(request, reason)
    except ProviderError as e:
        details = {"status": e.status, "error": str(e)[:_ANSWER_CHARS]}
        if not e.retryable:
            log.warning("signature_cancel_refused", request_id=str(request.id), error=str(e))
            await _record(engine, request.id, "refused", details)
            return "refused"
        if request.cancel_attempts >= max_attempts:
            log.error("signature_cancel_gave_up", request_id=str(request.id), error=str(e))
            await _record(engine, request.id, "gave_up", details)
            return "gave_up"
        delay = min(
            initial_backoff_seconds * 2 ** (request.cancel_attempts - 1), MAX_BACKOFF_SECONDS
        )
        log.warning(
            "signature_cancel_deferred", request_id=str(request.id), error=str(e), delay=delay
        )
        await _retry_later(engine, request.id, delay, details)
        return None
    log.info("signature_request_cancelled", request_id=str(request.id), provider=request.provider)
    await _record(engine, request.id, "cancelled", {"status": 200, "body": _bounded(answer)})
    return "cancelled"


async def _record(
    engine: AsyncEngine, request_id: uuid.UUID, outcome: str, answer: dict[str, Any] | None
) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "cancel_outcome": outcome,
        "cancel_answer": answer,
        "cancel_due_at": None,
        "updated_at": now,
    }
    if outcome == "cancelled":
        values["cancelled_at"] = now
    async with engine.begin() as conn:
        await conn.execute(
            update(SignatureRequest).where(SignatureRequest.id == request_id).values(**values)
        )


async def _retry_later(
    engine: AsyncEngine, request_id: uuid.UUID, delay: float, answer: dict[str, Any]
) -> None:
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            update(SignatureRequest)
            .where(SignatureRequest.id == request_id, SignatureRequest.cancel_outcome.is_(None))
            .values(
                cancel_due_at=now + timedelta(seconds=delay),
                cancel_answer=answer,
                updated_at=now,
            )
        )


def _bounded(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer as kept: whole when small, else only its top-level scalar fields."""
    text = str(answer)
    if len(text) <= _ANSWER_CHARS:
        return answer
    return {k: v for k, v in answer.items() if isinstance(v, str | int | float | bool | None)}

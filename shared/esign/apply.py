"""Applying facts to a request's rows: signers first, then the request's status by the rule.

A signer's first final state wins (a late or repeated event changes nothing), and so does the
request's: once signed, refused, expired or cancelled it stays so. The request row is locked
while facts are applied, so two events about one request (two signers signing at once) are
applied one after the other and the second sees the first.
"""

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Update, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.db.tables import InboxEvent, SignatureRequest, Signer
from shared.db.types import utcnow
from shared.esign import store
from shared.esign.model import (
    FINAL_REQUEST_STATUSES,
    Facts,
    RequestStatus,
    SignerFact,
    SignerStatus,
)
from shared.esign.rule import Verdict, evaluate
from shared.esign.store import RequestRow, SignerRow

_ENDED = {
    "refused": RequestStatus.REFUSED,
    "cancelled": RequestStatus.CANCELLED,
    "expired": RequestStatus.EXPIRED,
    # Someone closed it by hand before the rule was met (when the rule is met, the request is
    # signed before this is looked at): a contract missing a signature never passes as signed.
    "closed": RequestStatus.CLOSED,
    # A polled envelope found closed: ClickSign closes ours by itself after the last signature
    # (`auto_close`), and a poll shows no more than that it is closed.
    "finished": RequestStatus.SIGNED,
}


async def apply_facts(
    conn: AsyncConnection,
    request_id: uuid.UUID,
    facts: Facts,
    *,
    inbox_id: int | None = None,
    worked_out: Callable[[RequestRow], None] | None = None,
) -> RequestRow:
    """Apply `facts` inside the caller's transaction; the request as it is afterwards.

    With `inbox_id`, the event is marked processed first; one that was processed already (a
    redelivered message) changes nothing. The row is read once (locked) and the changes are
    worked out here. On PostgreSQL that is three round trips whatever changed: mark and lock,
    read, and one update of the request with its changed signers. `worked_out(request)` hears
    the outcome before it is written, so the caller may start what follows meanwhile (it must
    not rely on the write, which may still fail).
    """
    now = utcnow()
    on_postgresql = conn.dialect.name == "postgresql"
    if on_postgresql:
        first_time = await _mark_and_lock(conn, request_id, inbox_id, now)
    else:
        first_time = inbox_id is None or bool(await conn.scalar(_mark(inbox_id, now)))
        await conn.execute(_lock(request_id))
    # Read after the lock, in a statement of its own: one that waited for the lock then sees
    # the signers as the previous holder left them (a single statement would read them from
    # before its wait).
    request = await store.load(conn, request_id)
    if request is None or first_time is None:
        raise LookupError(f"signature request {request_id} does not exist")
    if not first_time or request.cancel_requested_at is not None:
        # A request DocFlow cancelled: what the provider says afterwards (its own `cancel`,
        # ZapSign's refused document) is the echo of that, and changes nothing.
        return request
    signers = list(request.signers)
    for fact in facts.signers:
        signer = _match(tuple(signers), fact)
        if signer is not None and signer.status == SignerStatus.PENDING:
            changed = replace(
                signer, status=fact.status, acted_at=fact.at or facts.at or now, reason=fact.reason
            )
            signers[signers.index(signer)] = changed
    if facts.all_signed:
        signers = [
            replace(s, status=SignerStatus.SIGNED, acted_at=facts.at or now)
            if s.status == SignerStatus.PENDING
            else s
            for s in signers
        ]
    moved = [new for old, new in zip(request.signers, signers, strict=True) if new != old]
    if not on_postgresql:
        for one in moved:
            await conn.execute(_set_signer(one))
    updated = replace(request, signers=tuple(signers))
    values: dict[str, Any] = {"last_activity_at": now, "updated_at": now}
    if all(s.status == SignerStatus.SIGNED for s in signers) or facts.ended in (
        "closed",
        "finished",
    ):
        values["provider_done"] = True
    if updated.status not in FINAL_REQUEST_STATUSES:
        status, reason = _status(updated, facts)
        if status is not None:
            values.update(status=status.value, reason=reason, completed_at=now)
    statement = update(SignatureRequest).where(SignatureRequest.id == request_id).values(**values)
    if on_postgresql and moved:
        # The signers' updates ride along as data-modifying CTEs: one round trip for them all.
        statement = statement.add_cte(
            *(_set_signer(one).cte(f"signer_{i}") for i, one in enumerate(moved))
        )
    outcome = replace(
        updated,
        status=values.get("status", updated.status),
        reason=values.get("reason", updated.reason),
        completed_at=values.get("completed_at", updated.completed_at),
        provider_done=values.get("provider_done", updated.provider_done),
    )
    if worked_out is not None:
        worked_out(outcome)
    await conn.execute(statement)
    return outcome


def _match(signers: tuple[SignerRow, ...], fact: SignerFact) -> SignerRow | None:
    if fact.provider_signer_id:
        for signer in signers:
            if signer.provider_signer_id == fact.provider_signer_id:
                return signer
    if fact.email:
        wanted = fact.email.strip().lower()
        candidates = [s for s in signers if s.email.strip().lower() == wanted]
        # One e-mail may sign twice (two roles): the first still pending takes the event.
        pending = [s for s in candidates if s.status == SignerStatus.PENDING]
        chosen = pending or candidates
        return chosen[0] if chosen else None
    return None


def _set_signer(signer: SignerRow) -> Update:
    # Guarded on `pending`: a signer's first final state wins, whatever else runs meanwhile.
    return (
        update(Signer)
        .where(Signer.id == signer.id, Signer.status == SignerStatus.PENDING)
        .values(
            status=signer.status,
            acted_at=signer.acted_at,
            reason=signer.reason,
            updated_at=utcnow(),
        )
    )


def _mark(inbox_id: int, now: datetime) -> Update:
    """Marks the event processed; returns its id only the first time."""
    return (
        update(InboxEvent)
        .where(InboxEvent.id == inbox_id, InboxEvent.processed_at.is_(None))
        .values(processed_at=now)
        .returning(InboxEvent.id)
    )


def _lock(request_id: uuid.UUID) -> Select[Any]:
    return select(SignatureRequest.id).where(SignatureRequest.id == request_id).with_for_update()


async def _mark_and_lock(
    conn: AsyncConnection, request_id: uuid.UUID, inbox_id: int | None, now: datetime
) -> bool | None:
    """PostgreSQL: the event marked and the request locked in one round trip. Whether the
    event is new (True without one), or None when the request does not exist."""
    if inbox_id is None:
        found = await conn.scalar(_lock(request_id))
        return None if found is None else True
    marked = _mark(inbox_id, now).cte("marked")
    statement = (
        select(exists(select(marked.c.id)))
        .select_from(SignatureRequest)
        .where(SignatureRequest.id == request_id)
        .with_for_update(of=SignatureRequest)
    )
    first_time: bool | None = await conn.scalar(statement)
    return first_time


def _status(request: RequestRow, facts: Facts) -> tuple[RequestStatus | None, str | None]:
    """The request's new final status, or (None, None) while it stays open."""
    verdict = evaluate(request.required, (s.status for s in request.signers))
    if verdict is Verdict.MET:
        return RequestStatus.SIGNED, None
    if verdict is Verdict.IMPOSSIBLE:
        refused = [s for s in request.signers if s.status == SignerStatus.REFUSED]
        return RequestStatus.REFUSED, refused[0].reason if refused else facts.reason
    if facts.ended in _ENDED:
        return _ENDED[facts.ended], facts.reason
    return None, None

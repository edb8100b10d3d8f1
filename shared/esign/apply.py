"""Applying facts to a request's rows: signers first, then the request's status by the rule.

A signer's first final state wins (a late or repeated event changes nothing), and so does the
request's: once signed, refused, expired or cancelled it stays so. The request row is locked
while facts are applied, so two events about one request (two signers signing at once) are
applied one after the other and the second sees the first.
"""

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import update
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
    # The provider closed the document: it is finished with the signatures it has.
    "closed": RequestStatus.SIGNED,
}


async def apply_facts(
    conn: AsyncConnection,
    request_id: uuid.UUID,
    facts: Facts,
    *,
    inbox_id: int | None = None,
) -> RequestRow:
    """Apply `facts` inside the caller's transaction; the request as it is afterwards.

    With `inbox_id`, the event is marked processed first; one that was processed already (a
    redelivered message) changes nothing. The row is read once (locked) and the changes are
    worked out here, so applying an event costs one statement per changed row.
    """
    now = utcnow()
    first_time = inbox_id is None or await conn.scalar(
        update(InboxEvent)
        .where(InboxEvent.id == inbox_id, InboxEvent.processed_at.is_(None))
        .values(processed_at=now)
        .returning(InboxEvent.id)
    )
    request = await store.load(conn, request_id, for_update=True)
    if request is None:
        raise LookupError(f"signature request {request_id} does not exist")
    if not first_time:
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
    for before, after in zip(request.signers, signers, strict=True):
        if after != before:
            await _set_signer(conn, after)
    updated = replace(request, signers=tuple(signers))
    values: dict[str, Any] = {"last_activity_at": now, "updated_at": now}
    if all(s.status == SignerStatus.SIGNED for s in signers) or facts.ended == "closed":
        values["provider_done"] = True
    if updated.status not in FINAL_REQUEST_STATUSES:
        status, reason = _status(updated, facts)
        if status is not None:
            values.update(status=status.value, reason=reason, completed_at=now)
    await conn.execute(
        update(SignatureRequest).where(SignatureRequest.id == request_id).values(**values)
    )
    return replace(
        updated,
        status=values.get("status", updated.status),
        reason=values.get("reason", updated.reason),
        completed_at=values.get("completed_at", updated.completed_at),
        provider_done=values.get("provider_done", updated.provider_done),
    )


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


async def _set_signer(conn: AsyncConnection, signer: SignerRow) -> None:
    # Guarded on `pending`: a signer's first final state wins, whatever else runs meanwhile.
    await conn.execute(
        update(Signer)
        .where(Signer.id == signer.id, Signer.status == SignerStatus.PENDING)
        .values(
            status=signer.status,
            acted_at=signer.acted_at,
            reason=signer.reason,
            updated_at=utcnow(),
        )
    )


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

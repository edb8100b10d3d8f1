"""Deciding a signature wait from the request's rows, and what the decision puts in the run.

`settle` runs inside the transaction that decides the wait, so the signer rows it reads are
the ones the decision is based on. The decision carries everything later nodes need (signers,
the signed document's id, hash and size), because `resume` sees only the decision.
"""

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult
from shared.db.tables import SignatureRequest
from shared.db.types import utcnow
from shared.esign import store
from shared.esign.model import FINAL_REQUEST_STATUSES, RequestStatus, SignerStatus
from shared.esign.store import RequestRow
from shared.nodes.signature import SignatureConfig
from shared.state_machine.waits import WaitRecord

DEADLINE_REASON = "the deadline passed before the signers the rule requires had signed"


async def settle(conn: AsyncConnection, wait: WaitRecord, reason: str) -> dict[str, Any] | None:
    request = await store.by_wait(conn, wait.id)
    if request is None:
        # Only a wait opened without its request row could get here; expiry still ends it.
        return {"outcome": "expired", "reason": DEADLINE_REASON} if reason == "expired" else None
    if request.status == RequestStatus.SIGNED:
        if request.provider_done and request.signed_document_id is None and reason != "expired":
            return None  # finished at the provider: wait for its signed file
        return _decision(request, "signed", reason)
    if request.status in FINAL_REQUEST_STATUSES:
        return _decision(request, request.status, reason)
    if reason == "expired":
        now = utcnow()
        values: dict[str, Any] = {}
        if wait.rule.get("on_timeout") == "fail":
            # The run fails on it: nobody may sign it now, so the scheduler cancels it there.
            values = {"cancel_requested_at": now, "cancel_due_at": now}
        await conn.execute(
            update(SignatureRequest)
            .where(
                SignatureRequest.id == request.id,
                SignatureRequest.status.not_in([s.value for s in FINAL_REQUEST_STATUSES]),
            )
            .values(
                status=RequestStatus.EXPIRED.value,
                reason=DEADLINE_REASON,
                completed_at=now,
                updated_at=now,
                **values,
            )
        )
        expired = await store.load(conn, request.id)
        assert expired is not None
        return _decision(expired, "expired", reason)
    return None


def _decision(request: RequestRow, outcome: str, seen_on: str) -> dict[str, Any]:
    stored = request.signed_document
    signed_document = stored.as_json() if stored is not None else None
    refused = [s for s in request.signers if s.status == SignerStatus.REFUSED]
    return {
        "outcome": outcome,
        "request_id": str(request.id),
        "provider": request.provider,
        "provider_request_id": request.provider_request_id,
        "status": request.status,
        "reason": request.reason,
        "rule": request.rule,
        "signed": sum(1 for s in request.signers if s.status == SignerStatus.SIGNED),
        "signers": [
            {
                "name": s.name,
                "email": s.email,
                "status": s.status,
                "at": s.acted_at.isoformat() if s.acted_at else None,
                "reason": s.reason,
            }
            for s in request.signers
        ],
        "refused_by": (
            {"name": refused[0].name, "email": refused[0].email, "reason": refused[0].reason}
            if refused
            else None
        ),
        "signed_document": signed_document,
        "expires_at": request.expires_at.isoformat() if request.expires_at else None,
        "decided_on": seen_on,
    }


def result_of(call: NodeCall, decision: dict[str, Any]) -> NodeResult:
    """Completed with the request in the context, or Failed with who refused and why."""
    assert isinstance(call.config, SignatureConfig)
    config = call.config
    outcome = decision.get("outcome")
    summary = {k: v for k, v in decision.items() if k != "decided_on"}
    if outcome == "expired" and config.on_timeout == "fail":
        return Failed(_expired_error(decision))
    if outcome in ("refused", "cancelled", "closed") and config.on_refusal == "fail":
        return Failed(_refusal_error(decision))
    update: dict[str, Any] = {
        "signature_requests": {**call.context.signature_requests, call.node_id: summary}
    }
    signed_document = decision.get("signed_document")
    if signed_document:
        # Shaped like the documents capability's entries (name, variant) so pickers read it.
        entry = {
            **signed_document,
            "name": signed_document["filename"],
            "node_id": call.node_id,
            "variant": "signed",
        }
        update["generated_documents"] = [*call.context.generated_documents, entry]
    return Completed(output=summary, context=call.context.model_copy(update=update))


def _refusal_error(decision: dict[str, Any]) -> str:
    provider = decision.get("provider")
    refused_by = decision.get("refused_by")
    if decision.get("outcome") == "cancelled":
        return f"the signature request was cancelled at {provider}: {decision.get('reason')}"
    if decision.get("outcome") == "closed":
        rule = decision.get("rule") or {}
        each = ", ".join(
            f"{s['name']} <{s['email']}> {s['status']}" for s in decision.get("signers") or []
        )
        return (
            f"the signature request was closed at {provider} before the rule was met, with "
            f"{decision.get('signed')} of {rule.get('required')} required signatures "
            f"(rule {rule.get('rule')!r}): {each}"
        )
    if refused_by:
        return (
            f"signer {refused_by['name']} <{refused_by['email']}> refused to sign at "
            f"{provider}: {refused_by.get('reason') or decision.get('reason')}"
        )
    return f"a signer refused to sign at {provider}: {decision.get('reason')}"


def _expired_error(decision: dict[str, Any]) -> str:
    rule = decision.get("rule") or {}
    return (
        f"the signature request expired (deadline {decision.get('expires_at')}) with "
        f"{decision.get('signed')} of {rule.get('required')} required signatures "
        f"(rule {rule.get('rule')!r}): {decision.get('reason')}"
    )

"""From what a provider says (an event, an envelope, a document) to facts about a request."""

from typing import Any

from shared.esign.model import Facts, SignerFact, SignerStatus, parse_time

#: ZapSign's documented vocabulary is mixed (`refused`, `recusado`); both mean refused.
ZAPSIGN_REFUSED = frozenset({"refused", "recusado", "rejected", "rejeitado"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def clicksign_event(payload: dict[str, Any]) -> Facts:
    """Decided by `event.name`: the documented bodies all carry `document.status: closed`."""
    event = _dict(payload.get("event"))
    data = _dict(event.get("data"))
    name = event.get("name")
    at = parse_time(event.get("occurred_at"))
    signer = _dict(data.get("signer"))
    who = {"provider_signer_id": signer.get("key"), "email": signer.get("email")}
    if name == "sign":
        return Facts(signers=(SignerFact(SignerStatus.SIGNED, at=at, **who),), at=at)
    if name == "refusal":
        refusal = _dict(data.get("refusal"))
        reasons = [str(r) for r in refusal.get("reasons") or []]
        if refusal.get("comment"):
            reasons.append(str(refusal["comment"]))
        reason = "; ".join(reasons) or "refused"
        return Facts(
            signers=(SignerFact(SignerStatus.REFUSED, at=at, reason=reason, **who),), at=at
        )
    if name == "auto_close":
        # ClickSign closes a document by itself only after its last signature.
        return Facts(all_signed=True, document_ready=True, at=at)
    if name == "close":
        # Closed by a person at ClickSign, maybe before every signer signed.
        return Facts(
            ended="closed", document_ready=True, at=at, reason="closed by hand at ClickSign"
        )
    if name == "document_closed":
        return Facts(document_ready=True, at=at)
    if name == "deadline":
        return Facts(ended="expired", at=at, reason="ClickSign's deadline was reached")
    if name == "cancel":
        return Facts(ended="cancelled", at=at, reason="cancelled at ClickSign")
    return Facts(at=at)


def clicksign_envelope(attributes: dict[str, Any]) -> Facts:
    """A polled envelope: only its end is visible (closed, canceled), not each signature."""
    status = str(attributes.get("status") or "")
    if status == "closed":
        return Facts(ended="finished", document_ready=True, reason="closed at ClickSign")
    if status in ("canceled", "cancelled"):
        return Facts(ended="cancelled", reason="cancelled at ClickSign")
    return Facts()


def zapsign_document(doc: dict[str, Any], event_type: str | None = None) -> Facts:
    """Facts from a document read from ZapSign (never from a webhook body, which is unsigned)."""
    status = str(doc.get("status") or "").lower()
    signers = [_dict(s) for s in doc.get("signers") or []]
    if status in ZAPSIGN_REFUSED or doc.get("rejected_reason"):
        reason = str(doc.get("rejected_reason") or "refused at ZapSign")
        refuser = _refuser(signers)
        facts = [_signed(s) for s in signers if s.get("status") == "signed"]
        if refuser is not None:
            facts.append(
                SignerFact(
                    SignerStatus.REFUSED,
                    provider_signer_id=refuser.get("token"),
                    email=refuser.get("email") or None,
                    at=parse_time(doc.get("last_update_at")),
                    reason=reason,
                )
            )
        return Facts(signers=tuple(facts), ended="refused", reason=reason)
    if doc.get("deleted"):
        # Cancelling may still send `doc_signed`: a deleted document is never signed.
        return Facts(ended="cancelled", reason="cancelled at ZapSign")
    signed = tuple(_signed(s) for s in signers if s.get("status") == "signed")
    if status == "signed":
        return Facts(signers=signed, all_signed=True, signed_file_url=doc.get("signed_file"))
    if event_type == "doc_expired":
        return Facts(signers=signed, ended="expired", reason="ZapSign's deadline was reached")
    return Facts(signers=signed)


def _signed(signer: dict[str, Any]) -> SignerFact:
    return SignerFact(
        SignerStatus.SIGNED,
        provider_signer_id=signer.get("token"),
        email=signer.get("email") or None,
        at=parse_time(signer.get("signed_at")),
    )


def _refuser(signers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """ZapSign does not name who refused: a signer marked refused, else the last to open it."""
    unsigned = [s for s in signers if s.get("status") != "signed"]
    for signer in unsigned:
        if str(signer.get("status") or "").lower() in ZAPSIGN_REFUSED:
            return signer
    viewed = [s for s in unsigned if s.get("last_view_at")]
    if viewed:
        return max(viewed, key=lambda s: str(s["last_view_at"]))
    return unsigned[0] if unsigned else None

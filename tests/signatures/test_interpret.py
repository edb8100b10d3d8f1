"""What each documented provider body means, read without any server (pure functions)."""

import pytest

from shared.esign import interpret
from shared.esign.model import SignerStatus
from shared.esign.rule import Verdict, evaluate, required_signatures
from shared.esign.webhooks import parse, verify_clicksign, verify_shared_secret
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SECRET,
    CLICKSIGN_SIGN_SIGNER_KEY,
    DOCUMENTED_DIR,
    PROVIDERS_DIR,
    VECTORS,
    ZAPSIGN_DOC_TOKEN,
    clicksign_vector,
    document,
    raw,
)


def test_the_fixtures_are_the_documented_bodies_byte_for_byte() -> None:
    if not DOCUMENTED_DIR.is_dir():
        pytest.skip(f"{DOCUMENTED_DIR} is not next to this repository")
    names = sorted(p.name for p in PROVIDERS_DIR.glob("*.json"))
    assert len(names) == 14
    for name in names:
        assert (PROVIDERS_DIR / name).read_bytes() == (DOCUMENTED_DIR / name).read_bytes(), name


@pytest.mark.parametrize("name", sorted(VECTORS["files"]))
def test_each_documented_clicksign_body_verifies_with_its_documented_hmac(name: str) -> None:
    body = raw(name)
    assert len(body) == VECTORS["files"][name]["bytes"]
    assert verify_clicksign(CLICKSIGN_SECRET, body, clicksign_vector(name)["Content-Hmac"])
    assert not verify_clicksign(
        CLICKSIGN_SECRET, body + b" ", clicksign_vector(name)["Content-Hmac"]
    )
    assert not verify_clicksign("", body, clicksign_vector(name)["Content-Hmac"])


def test_clicksign_events_are_read_from_the_event_name_not_the_document_status() -> None:
    # Every documented body says document.status "closed", whatever happened.
    for name in VECTORS["files"]:
        assert document(name)["document"]["status"] == "closed"
    sign = interpret.clicksign_event(document("clicksign_sign.json"))
    assert (sign.ended, sign.all_signed) == (None, False)
    [fact] = sign.signers
    assert (fact.status, fact.provider_signer_id) == (
        SignerStatus.SIGNED,
        CLICKSIGN_SIGN_SIGNER_KEY,
    )
    refusal = interpret.clicksign_event(document("clicksign_refusal.json"))
    assert refusal.signers[0].status == SignerStatus.REFUSED
    assert refusal.signers[0].reason is not None
    assert refusal.signers[0].reason.endswith("Outros; mais de 18 caracteres")
    assert interpret.clicksign_event(document("clicksign_auto_close.json")).all_signed
    assert interpret.clicksign_event(document("clicksign_close.json")).ended == "closed"
    assert interpret.clicksign_event(document("clicksign_document_closed.json")).document_ready
    assert interpret.clicksign_event(document("clicksign_deadline.json")).ended == "expired"
    assert interpret.clicksign_event(document("clicksign_cancel.json")).ended == "cancelled"


def test_event_keys_tell_events_apart_and_name_the_document() -> None:
    keys = set()
    for name in VECTORS["files"]:
        event = parse("clicksign", document(name))
        assert event is not None and event.document_key == CLICKSIGN_DOCUMENT_KEY
        keys.add(event.event_key)
    assert len(keys) == len(VECTORS["files"])
    signed = parse("zapsign", document("zapsign_doc_signed.json"))
    assert signed is not None and signed.document_key == ZAPSIGN_DOC_TOKEN
    assert signed.external_id == "id-suaaplicacao-e32213ds-243"
    expired = parse("zapsign", document("zapsign_doc_expired.json"))
    assert expired is not None and expired.name == "doc_expired"
    assert parse("clicksign", {"event": {}}) is None


def test_zapsign_documents_are_believed_by_status_and_deletion() -> None:
    pending = document("zapsign_get_doc_response.json")
    assert interpret.zapsign_document(pending).signers == ()
    signed = interpret.zapsign_document(document("zapsign_doc_signed.json"))
    assert signed.all_signed and signed.signed_file_url
    refused = interpret.zapsign_document(document("zapsign_doc_refused.json"))
    assert refused.ended == "refused" and refused.reason == "Motivo da recusa do documento"
    assert refused.signers[-1].status == SignerStatus.REFUSED
    cancelled = {**document("zapsign_doc_signed.json"), "deleted": True, "status": "pending"}
    assert interpret.zapsign_document(cancelled).ended == "cancelled"
    assert interpret.zapsign_document(cancelled).signers == ()
    expired = interpret.zapsign_document(document("zapsign_doc_expired.json"), "doc_expired")
    assert expired.ended == "expired"


def test_the_zapsign_secret_header_is_compared_whole() -> None:
    assert verify_shared_secret("s3cret", "s3cret")
    assert not verify_shared_secret("s3cret", "s3cre")
    assert not verify_shared_secret("", "")
    assert not verify_shared_secret("s3cret", None)


@pytest.mark.parametrize(
    ("rule", "required", "statuses", "verdict"),
    [
        ("all", None, ["signed", "pending"], Verdict.OPEN),
        ("all", None, ["signed", "signed"], Verdict.MET),
        ("all", None, ["signed", "refused"], Verdict.IMPOSSIBLE),
        ("any", None, ["pending", "signed"], Verdict.MET),
        ("any", None, ["refused", "pending"], Verdict.OPEN),
        ("any", None, ["refused", "refused"], Verdict.IMPOSSIBLE),
        ("quorum", 2, ["signed", "pending", "refused"], Verdict.OPEN),
        ("quorum", 2, ["signed", "refused", "refused"], Verdict.IMPOSSIBLE),
        ("quorum", 2, ["signed", "signed", "pending"], Verdict.MET),
    ],
)
def test_the_rule_over_signers(
    rule: str, required: int | None, statuses: list[str], verdict: Verdict
) -> None:
    assert evaluate(required_signatures(rule, required, len(statuses)), statuses) is verdict

"""The documented provider bodies in /work/shared/providers/, used verbatim as webhook bodies,
and bodies derived from them (another signer, another document) re-signed the documented way."""

import json
from pathlib import Path
from typing import Any

from shared.esign.webhooks import clicksign_signature

#: Copies of ../shared/providers/ (the documented bodies), byte for byte.
PROVIDERS_DIR = Path(__file__).parent / "fixtures"
#: Where they were copied from, when it is next to the repository.
DOCUMENTED_DIR = Path(__file__).parents[3] / "shared" / "providers"
VECTORS = json.loads((PROVIDERS_DIR / "clicksign_hmac_vectors.json").read_bytes())
#: The test-only secret the documented HMAC vectors were computed with.
CLICKSIGN_SECRET: str = VECTORS["secret"]
ZAPSIGN_SECRET = "zapsign-webhook-secret-for-tests"

#: What the documented ClickSign bodies name: the document and the signer of `sign`.
CLICKSIGN_DOCUMENT_KEY = "db4a2cf7-0a48-481f-b669-54f2a2260ac2"
CLICKSIGN_SIGN_SIGNER_KEY = "916487c8-9939-0000-0000-4cd7ffd8785b"
CLICKSIGN_SIGNER_EMAIL = "email@empresa.com"
#: What the documented ZapSign `doc_signed` body names.
ZAPSIGN_DOC_TOKEN = "cce11abf-abcd-abcd-a657-25b55f185f16"
ZAPSIGN_SIGNER_TOKEN = "b14f141f-abcd-abcd-8dfa-0bdac0ec806a"
ZAPSIGN_SIGNER_EMAIL = "ola@zapsign.com.br"


def raw(name: str) -> bytes:
    """A documented body exactly as stored: the bytes the signature is computed over."""
    return (PROVIDERS_DIR / name).read_bytes()


def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(raw(name))
    return loaded


def clicksign_vector(name: str) -> dict[str, str]:
    """The documented `Event` and `Content-Hmac` headers of a ClickSign body file."""
    vector = VECTORS["files"][name]
    return {"Event": vector["Event"], "Content-Hmac": vector["Content-Hmac"]}


def clicksign_headers(body: bytes, event: str, *, secret: str = CLICKSIGN_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Event": event,
        "Content-Hmac": clicksign_signature(secret, body),
    }


def clicksign_event(
    event: str,
    *,
    document_key: str = CLICKSIGN_DOCUMENT_KEY,
    signer_key: str | None = None,
    signer_email: str | None = None,
    occurred_at: str | None = None,
) -> bytes:
    """The documented body of `event`, about another document or signer."""
    body = document(f"clicksign_{event}.json")
    body["document"]["key"] = document_key
    signer = (body["event"].get("data") or {}).get("signer")
    if signer is not None:
        if signer_key is not None:
            signer["key"] = signer_key
        if signer_email is not None:
            signer["email"] = signer_email
    if occurred_at is not None:
        body["event"]["occurred_at"] = occurred_at
    return json.dumps(body, ensure_ascii=False, indent=2).encode()


def zapsign_event(
    event: str,
    *,
    token: str = ZAPSIGN_DOC_TOKEN,
    external_id: str | None = None,
    signer_token: str | None = None,
    signer_email: str | None = None,
    signed_at: str | None = None,
) -> bytes:
    """The documented ZapSign body of `event` (doc_signed, doc_refused…), for another document
    or signer."""
    body = document(f"zapsign_{event}.json")
    body["token"] = token
    if external_id is not None:
        body["external_id"] = external_id
    who = body.get("signer_who_signed")
    if who is not None:
        if signer_token is not None:
            who["token"] = signer_token
        if signer_email is not None:
            who["email"] = signer_email
        if signed_at is not None:
            who["signed_at"] = signed_at
    return json.dumps(body, ensure_ascii=False, indent=2).encode()

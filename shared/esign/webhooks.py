"""Reading a provider's webhook at the gateway: is it authentic, and which event is it.

ClickSign signs every delivery: `Content-Hmac: sha256=<hex HMAC-SHA256(raw body, secret)>`.
ZapSign signs nothing, so its webhook is configured to send a secret header, which is compared
in constant time (and the document is re-read from ZapSign before anything is believed).
"""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

PROVIDERS = ("clicksign", "zapsign")
#: The width of `inbox.event_key`.
MAX_EVENT_KEY = 300
CLICKSIGN_SIGNATURE_HEADER = "Content-Hmac"


@dataclass(frozen=True)
class ParsedEvent:
    provider: str
    #: Unique per event, so a redelivery is recognised in the inbox.
    event_key: str
    name: str
    #: ClickSign `document.key`; ZapSign document `token`.
    document_key: str
    #: ZapSign `external_id` (our idempotency key), to find a request whose token is unknown.
    external_id: str | None = None


def clicksign_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_clicksign(secret: str, body: bytes, header: str | None) -> bool:
    """True only for a configured secret and a matching `Content-Hmac`."""
    if not secret or not header:
        return False
    expected = clicksign_signature(secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


def verify_shared_secret(secret: str, header: str | None) -> bool:
    if not secret or header is None:
        return False
    return hmac.compare_digest(secret.encode(), header.strip().encode())


def parse_clicksign(payload: Any) -> ParsedEvent | None:
    """None when the body is not a ClickSign event (no event name or document key)."""
    if not isinstance(payload, dict):
        return None
    event, document = payload.get("event"), payload.get("document")
    if not isinstance(event, dict) or not isinstance(document, dict):
        return None
    name, key = event.get("name"), document.get("key")
    if not isinstance(name, str) or not name or not isinstance(key, str) or not key:
        return None
    data = event.get("data")
    signer = data.get("signer") if isinstance(data, dict) else None
    who = (signer.get("key") or signer.get("email") or "") if isinstance(signer, dict) else ""
    # No event id is documented; these fields together name one event.
    event_key = f"{name}:{key}:{who}:{event.get('occurred_at') or ''}"
    return ParsedEvent("clicksign", stored_key(event_key), name, key)


def parse_zapsign(payload: Any) -> ParsedEvent | None:
    if not isinstance(payload, dict):
        return None
    name, token = payload.get("event_type"), payload.get("token")
    if not isinstance(name, str) or not name or not isinstance(token, str) or not token:
        return None
    signer = payload.get("signer_who_signed")
    signer = signer if isinstance(signer, dict) else {}
    moment = signer.get("signed_at") or payload.get("last_update_at") or ""
    event_key = stored_key(f"{name}:{token}:{signer.get('token') or ''}:{moment}")
    external_id = payload.get("external_id")
    return ParsedEvent(
        "zapsign", event_key, name, token, external_id if isinstance(external_id, str) else None
    )


def parse(provider: str, payload: Any) -> ParsedEvent | None:
    return parse_clicksign(payload) if provider == "clicksign" else parse_zapsign(payload)


def stored_key(key: str) -> str:
    """The key as the inbox stores it: a key too long for its column is replaced by its hash,
    which names the same event just as well (a redelivery hashes the same)."""
    if len(key) <= MAX_EVENT_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()

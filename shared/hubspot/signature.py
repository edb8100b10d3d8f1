"""`X-HubSpot-Signature-v3`: base64(HMAC-SHA256(client secret, method + URI + body + timestamp)).

HubSpot signs the URI it called with some escapes decoded, so the same decoding is applied here
before signing; the timestamp is in milliseconds and a request older than 5 minutes is refused.
"""

import base64
import hashlib
import hmac
import re

from shared.errors import DocflowError

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_AGE_MS = 5 * 60 * 1000

#: The escapes HubSpot decodes in the URI before it signs (its request-validation page).
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


class StaleRequest(DocflowError):
    """The timestamp is missing, not a number, or more than 5 minutes away from now."""


def canonical_uri(uri: str) -> str:
    return _ESCAPE.sub(lambda match: _DECODED[match.group(0).upper()], uri)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.upper().encode() + canonical_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_by(
    secret: str, signature: str, method: str, uri: str, body: bytes, timestamp: str
) -> bool:
    expected = signature_v3(secret, method, uri, body, timestamp)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def check_timestamp(timestamp: str, now_ms: int) -> None:
    """Refuse a request older than 5 minutes (and one from further than that in the future,
    which only a wrong clock or a forger sends)."""
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise StaleRequest(f"{TIMESTAMP_HEADER} is not a number of milliseconds") from None
    if abs(now_ms - sent_ms) > MAX_AGE_MS:
        raise StaleRequest(f"{TIMESTAMP_HEADER} is more than 5 minutes from now")

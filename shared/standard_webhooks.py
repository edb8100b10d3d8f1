"""Standard Webhooks (standardwebhooks.com) for inbound hooks: secrets, signing, verification.

Verification is the `standardwebhooks` library's (constant-time compare, 5-minute tolerance
either way); this module adds what it leaves out: trying the secret kept after a rotation, and
turning every malformed header into one refusal instead of a stray ValueError.
"""

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

from shared.errors import DocflowError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
#: A webhook-id becomes part of an execution's idempotency key, whose column is 200 wide.
MAX_ID_LENGTH = 150


class SignatureRefused(DocflowError):
    """Missing or malformed headers, a timestamp outside the tolerance, or no matching signature."""


@dataclass(frozen=True)
class VerifiedHook:
    id: str
    timestamp: int


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, hook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value a sender puts on `body` (`v1,<base64>`)."""
    return Webhook(secret).sign(hook_id, datetime.fromtimestamp(timestamp, UTC), body.decode())


def verify(candidates: Sequence[str], body: bytes, headers: Mapping[str, str]) -> VerifiedHook:
    """The hook's id and timestamp when one of `candidates` signed it; else SignatureRefused."""
    lowered = {name.lower(): value for name, value in headers.items()}
    hook_id = lowered.get("webhook-id", "")
    if len(hook_id) > MAX_ID_LENGTH:
        raise SignatureRefused(f"webhook-id is longer than {MAX_ID_LENGTH} characters")
    reason = "no secret to verify with"
    for secret in candidates:
        try:
            Webhook(secret).verify(body, lowered, json_parse=False)
        except WebhookVerificationError as e:
            reason = str(e)
            continue
        except (ValueError, binascii.Error):
            # The library unpacks `v1,<sig>` and decodes base64 and UTF-8 without wrapping.
            reason = "malformed webhook-signature or body"
            continue
        return VerifiedHook(hook_id, int(float(lowered["webhook-timestamp"])))
    raise SignatureRefused(reason)

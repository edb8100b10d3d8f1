"""Approval links: a 256-bit token in the URL, only its SHA-256 in the database.

The token is minted by the notifier as it sends the e-mail (the one moment it is needed), so
it never rests in a table, an outbox row or a broker message; the gateway finds the approval
by hashing what the link carries.
"""

import hashlib
import secrets
import uuid

#: 32 bytes from the OS's CSPRNG: 256 bits, URL-safe base64 without padding (43 characters).
TOKEN_BYTES = 32
#: The path of approval pages under the public base URL.
APPROVE_PATH = "/approve/"


def mint_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def approval_link(public_url: str, token: str) -> str:
    """Built from the configured public URL, never from a request's Host header."""
    return f"{public_url.rstrip('/')}{APPROVE_PATH}{token}"


def mail_key(execution_id: uuid.UUID, node_id: str, approval_id: uuid.UUID, purpose: str) -> str:
    """The e-mail's idempotency key: one e-mail per approver and purpose occurrence."""
    return f"{execution_id}:{node_id}:approval:{approval_id}:{purpose}"

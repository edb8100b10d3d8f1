"""Resume URLs: an unguessable link per event wait that other systems can call back.

The token is an HMAC-SHA256 of the execution id and the node id under a key derived from
`DOCFLOW_SECRET_KEY`, so it can be computed before the wait opens (a `webhook` node before the
`event` node hands it to an ERP) and verified without any stored state. It is never stored:
templates compute it when they render, and an event delivered through it is recorded under
the token's SHA-256 only, which also makes a repeated call a repeat.
"""

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator, Mapping

#: Domain separation: the secret key also seals connection secrets.
_PURPOSE = b"docflow resume url v1"
#: 256 bits, base64url without padding.
TOKEN_CHARS = 43


class ResumeKeyMissing(Exception):
    """Resume URLs need `DOCFLOW_SECRET_KEY`."""


def _key(secret_key: str) -> bytes:
    if not secret_key:
        raise ResumeKeyMissing("resume URLs need DOCFLOW_SECRET_KEY to be set")
    return hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def resume_token(secret_key: str, execution_id: uuid.UUID, node_id: str) -> str:
    mac = hmac.new(_key(secret_key), f"{execution_id}\n{node_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def token_is_valid(secret_key: str, execution_id: uuid.UUID, node_id: str, token: str) -> bool:
    """In constant time; False (never an error) without a key."""
    if not secret_key or len(token) != TOKEN_CHARS:
        return False
    expected = resume_token(secret_key, execution_id, node_id)
    return hmac.compare_digest(expected.encode(), token.encode())


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def resume_path(execution_id: uuid.UUID, node_id: str, token: str) -> str:
    return f"/api/v1/resume/{execution_id}/{node_id}/{token}"


def resume_url(public_url: str, secret_key: str, execution_id: uuid.UUID, node_id: str) -> str:
    token = resume_token(secret_key, execution_id, node_id)
    return public_url.rstrip("/") + resume_path(execution_id, node_id, token)


class WaitLinks(Mapping[str, Mapping[str, str]]):
    """`waits.<node_id>.resume_url` in templates, computed on access: nothing to store."""

    def __init__(
        self, public_url: str, secret_key: str, execution_id: uuid.UUID, node_ids: frozenset[str]
    ) -> None:
        self._public_url = public_url
        self._secret_key = secret_key
        self._execution_id = execution_id
        self._node_ids = node_ids

    def __getitem__(self, node_id: str) -> Mapping[str, str]:
        if node_id not in self._node_ids:
            raise KeyError(node_id)
        url = resume_url(self._public_url, self._secret_key, self._execution_id, node_id)
        return {"resume_url": url}

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._node_ids))

    def __len__(self) -> int:
        return len(self._node_ids)

    def __repr__(self) -> str:
        # The same on every attempt: what a document's input hash spells this mapping as.
        return f"WaitLinks(execution={self._execution_id}, nodes={sorted(self._node_ids)})"

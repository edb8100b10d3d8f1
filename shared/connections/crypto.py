"""Encryption at rest for connection secrets (Fernet: AES-128-CBC + HMAC-SHA256)."""

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from shared.errors import DocflowError


class SecretKeyMissing(DocflowError):
    """Connections need DOCFLOW_SECRET_KEY; without it nothing is stored in the clear instead."""


class SecretUnreadable(DocflowError):
    """A stored secret does not decrypt with the configured key (the key was changed?)."""


def new_secret_key() -> str:
    return Fernet.generate_key().decode()


class Sealer:
    def __init__(self, key: str) -> None:
        if not key:
            raise SecretKeyMissing("set DOCFLOW_SECRET_KEY to store connections")
        try:
            self._fernet = Fernet(key.encode())
        except ValueError as e:
            raise SecretKeyMissing(
                "DOCFLOW_SECRET_KEY must be 32 url-safe base64-encoded bytes"
            ) from e

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as e:
            raise SecretUnreadable("a connection's secret does not decrypt with this key") from e
        return opened

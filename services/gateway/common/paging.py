"""Opaque keyset cursors over (created_at, id), newest first."""

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from services.gateway.common.problems import invalid


@dataclass(frozen=True)
class Cursor:
    """The last row of a page; the next page starts strictly after it."""

    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps({"t": self.created_at.isoformat(), "id": str(self.id)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, *, parameter: str = "cursor") -> Cursor:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created_at = datetime.fromisoformat(data["t"])
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        return Cursor(created_at, uuid.UUID(data["id"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise invalid(parameter, "is not a cursor this API returned") from e

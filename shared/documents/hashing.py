"""Hashes that identify bytes and the inputs a document was made from."""

import hashlib
import json
from typing import Any


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def input_hash(inputs: Any) -> str:
    """SHA-256 of the canonical JSON of `inputs`: the same inputs give the same hash on every
    attempt and every machine (keys sorted; values JSON has no form for are spelt by str())."""
    canonical = json.dumps(
        inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return sha256_hex(canonical.encode())

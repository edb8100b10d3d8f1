"""Whether a value can be written to the database as JSON, decided before a checkpoint tries.

A node's output goes into the checkpoint's JSON. Some values cannot be stored there: a lone
surrogate cannot be encoded as UTF-8, nesting deeper than the encoder allows (255 levels) is
refused, and PostgreSQL refuses the character U+0000 in `jsonb`. Found by the database, such a
value failed the checkpoint, the message was delivered again, and the node's side effect (a
webhook call) repeated on every delivery; found here, it fails the node once, with the reason.
"""

import re
from typing import Any

import pydantic_core

#: An escaped U+0000 in encoded JSON: `\u0000` after an even number of backslashes (an odd
#: number would make it the text `\u0000`, which PostgreSQL stores happily).
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class Unstorable(ValueError):
    """The value cannot be stored as JSON; the message says why."""


def encode_storable(value: Any) -> bytes:
    """`value` as JSON (non-JSON types as their `str`), or `Unstorable`."""
    try:
        encoded = pydantic_core.to_json(value, fallback=str)
    except pydantic_core.PydanticSerializationError as e:
        raise Unstorable(str(e).removeprefix("Error serializing to JSON: ")) from None
    if b"\\u0000" in encoded and _ESCAPED_NUL.search(encoded):
        raise Unstorable("it holds the character U+0000, which PostgreSQL cannot store in JSON")
    return encoded

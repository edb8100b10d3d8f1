"""Reading what a request carries: a bounded JSON body, path ids, query parameters."""

import json
import re
import uuid
from typing import Any

from aiohttp import web

from services.gateway.common.problems import Problem, invalid, not_found
from services.gateway.keys import RESOURCES
from shared.json_input import first_unkeepable


async def json_object(request: web.Request, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object. An empty optional body is `{}`."""
    raw = await _bounded_body(request)
    if not raw.strip():
        if required:
            raise Problem(400, "malformed-json", "the request body must be a JSON object")
        return {}
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise Problem(400, "malformed-json", f"the request body is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise invalid("body", f"must be a JSON object, not {_json_kind(value)}")
    refuse_unkeepable(value)
    return value


def refuse_unkeepable(value: Any) -> None:
    """A 422 naming the field that holds a NUL, a lone surrogate or nests too deep."""
    found = first_unkeepable(value)
    if found is not None:
        raise invalid(*found)


async def json_value(request: web.Request) -> Any:
    """The body as any JSON value (an object, an array, a string, ...); empty is `null`."""
    raw = await _bounded_body(request)
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise Problem(400, "malformed-json", f"the request body is not valid JSON: {e}") from e


async def _bounded_body(request: web.Request) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed the limit.

    Counted while reading, so a chunked body without Content-Length is bounded too.
    """
    limit = request.app[RESOURCES].settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them later with a 500.
    raise ValueError(f"{name} is not a JSON value")


def _too_large(limit: int) -> Problem:
    return Problem(413, "payload-too-large", f"the request body exceeds {limit} bytes")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def path_id(request: web.Request, name: str, kind: str) -> uuid.UUID:
    """A UUID from the path; anything else names nothing, so it is a 404, not a 400."""
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found(kind, raw) from None


_INTEGER = re.compile(r"-?[0-9]+")
#: Digits past every bound a query integer has: a longer one is out of range without int(),
#: which is slow on thousands of digits and refuses more than 4300.
_MAX_DIGITS = 18


def query_uuid(request: web.Request, name: str) -> uuid.UUID | None:
    # An empty value is not "no filter": the document says a UUID, so `?name=` is refused.
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise invalid(name, "must be a UUID") from None


def query_int(
    request: web.Request, name: str, *, default: int | None, minimum: int, maximum: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    # int() would also take " 5", "+5", "5_0" and non-ASCII digits, none of them an integer
    # as the document spells one.
    if _INTEGER.fullmatch(raw) is None:
        raise invalid(name, "must be an integer")
    value = int(raw) if len(raw.lstrip("-")) <= _MAX_DIGITS else None
    if value is None or not minimum <= value <= maximum:
        raise invalid(name, f"must be between {minimum} and {maximum}")
    return value

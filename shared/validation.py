"""Pydantic validation errors as the field paths our problem documents name."""

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import InvalidInput

#: How pydantic names the member of a union an error came from, in the error's location
#: (`list[Approver]`, `str`, `function-after[...]`): not a field, so not part of its path.
_UNION_MEMBER = re.compile(r"^(?:[a-z][a-z0-9-]*\[.*\]|str|int|float|bool|none|list|dict)$")


def _member_at(location: tuple[int | str, ...]) -> int | None:
    for index, part in enumerate(location):
        if isinstance(part, str) and _UNION_MEMBER.match(part):
            return index
    return None


def field_path(location: tuple[int | str, ...], prefix: str = "") -> str:
    """`("nodes", 2, "config", "url")` → `nodes[2].config.url`; union members left out."""
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _UNION_MEMBER.match(part):
            path += f".{part}" if path else part
    return path


def field_errors(error: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """Each error by the path a user wrote. Of a union's members, those the value is not even
    the type of (a list given where a template string also fits) are left out when another
    member says what is actually wrong."""
    found = error.errors()
    telling: set[tuple[int | str, ...]] = set()
    for e in found:
        member = _member_at(tuple(e["loc"]))
        if member is not None and not e["type"].endswith("_type"):
            telling.add(tuple(e["loc"][:member]))
    kept = []
    for e in found:
        member = _member_at(tuple(e["loc"]))
        if (
            member is not None
            and e["type"].endswith("_type")
            and tuple(e["loc"][:member]) in telling
        ):
            continue
        kept.append({"field": field_path(tuple(e["loc"]), prefix), "message": e["msg"]})
    return kept


M = TypeVar("M", bound=BaseModel)


def parse_input(model: type[M], value: object, prefix: str = "") -> M:
    """The validated model, or InvalidInput naming each field at fault."""
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise InvalidInput(field_errors(e, prefix)) from e

"""Pydantic validation errors as the field paths our problem documents name."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import InvalidInput


def field_path(location: tuple[int | str, ...], prefix: str = "") -> str:
    """`("nodes", 2, "config", "url")` → `nodes[2].config.url`."""
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def field_errors(error: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"field": field_path(tuple(e["loc"]), prefix), "message": e["msg"]} for e in error.errors()
    ]


M = TypeVar("M", bound=BaseModel)


def parse_input(model: type[M], value: object, prefix: str = "") -> M:
    """The validated model, or InvalidInput naming each field at fault."""
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise InvalidInput(field_errors(e, prefix)) from e

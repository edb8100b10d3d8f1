"""JSON from outside that DocFlow can keep: no NUL characters (PostgreSQL text refuses them),
no lone surrogates (they cannot be encoded as UTF-8) and no nesting deeper than a limit (the
encoders, the templates and the context all recurse). Found here, it is the caller's 4xx, not a
500 from deep inside a write."""

from typing import Any

#: Levels of arrays and objects one JSON value may nest, the outermost counted.
MAX_JSON_DEPTH = 64


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not text"
    return None


def first_unkeepable(value: Any, path: str = "") -> tuple[str, str] | None:
    """`(field, reason)` of the first part of `value` DocFlow cannot keep, else None. `field`
    is spelled like validation errors: `trigger_data.lines[2].name`."""
    stack: list[tuple[str, Any, int]] = [(path, value, 1)]
    while stack:
        where, item, depth = stack.pop()
        if isinstance(item, str):
            reason = _bad_text(item)
            if reason is not None:
                return where or "body", reason
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            return where or "body", f"nests deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, list):
            stack.extend(
                (f"{where}[{i}]", v, depth + 1) for i, v in reversed(list(enumerate(item)))
            )
            continue
        for key in reversed(list(item)):
            name = f"{where}.{key}" if where else str(key)
            reason = _bad_text(str(key))
            if reason is not None:
                return name, f"(a member name) {reason}"
            stack.append((name, item[key], depth + 1))
    return None

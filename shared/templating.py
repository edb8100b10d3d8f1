"""Sandboxed Jinja over the execution context. An undefined name is an error, never ''."""

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from shared.errors import TemplateError
from shared.template_budget import (
    BudgetedSandbox,
    TemplateBudgetExceeded,
    render_text,
    within_a_budget,
)

# A value that is exactly one `{{ expression }}` renders to the expression's own type, so
# `{{ source.deal.amount }}` stays a number; anything else renders to a string.
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


@lru_cache(maxsize=1)
def _environment() -> BudgetedSandbox:
    # Built on first use, not at import time; the sandbox is immutable and shared safely.
    return BudgetedSandbox(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    env = _environment()
    match = _SINGLE_EXPRESSION.match(source)
    if match:
        return ("expr", env.compile_expression(match["expr"], undefined_to_none=False))
    return ("text", env.from_string(source))


def check_syntax(source: str) -> None:
    """Raise TemplateError when `source` does not parse."""
    try:
        _compile(source)
    except TemplateSyntaxError as e:
        raise TemplateError(f"template does not parse: {e.message} (line {e.lineno})") from e


def render(source: str, namespace: dict[str, Any]) -> Any:
    if not is_template(source):
        return source
    kind, compiled = _compile(source)
    try:
        with within_a_budget():
            if kind == "expr":
                value = compiled(**namespace)
                if isinstance(value, StrictUndefined):
                    str(value)  # raises UndefinedError naming the missing attribute
                return value
            return render_text(compiled, namespace)
    except TemplateBudgetExceeded as e:
        raise TemplateError(f"template exceeded its budget: {e}, in {source[:200]!r}") from e
    except RecursionError as e:
        raise TemplateError(
            f"template exceeded its budget: it recursed too deep, in {source[:200]!r}"
        ) from e
    except UndefinedError as e:
        raise TemplateError(f"{e.message} in {source!r}") from e
    except SecurityError as e:
        raise TemplateError(f"not allowed in a template: {e}") from e
    except TemplateSyntaxError as e:
        raise TemplateError(f"template does not parse: {e.message}") from e
    except Exception as e:  # e.g. ZeroDivisionError inside an expression
        raise TemplateError(f"{type(e).__name__}: {e} in {source!r}") from e


def render_deep(value: Any, namespace: dict[str, Any]) -> Any:
    """Render every string leaf of a JSON-like value."""
    if isinstance(value, str):
        return render(value, namespace)
    if isinstance(value, dict):
        return {k: render_deep(v, namespace) for k, v in value.items()}
    if isinstance(value, list):
        return [render_deep(v, namespace) for v in value]
    return value


def template_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield (field path, template) for every templated string leaf, for save-time checks."""
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from template_strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from template_strings(item, f"{path}[{index}]")


def single_expression(source: str) -> str | None:
    """The expression of a value that is exactly one `{{ expression }}` (which keeps its type),
    or None for anything that renders to a string."""
    match = _SINGLE_EXPRESSION.match(source)
    return match["expr"] if match else None

"""A Jinja sandbox whose templates run under a budget: time and the size of what they build.

A template comes from whoever wrote the workflow. Without a budget, `{{ 7 ** 17000000 }}`,
`{{ 'a' * 300000000 }}`, `{{ 'x'|center(10**9) }}`, two nested loops over `range(100000)` or
a macro that calls itself twice per level would hold an executor's event loop for minutes or
take its memory. Here every arithmetic operator that can grow a value, every call (methods,
filters, macros), every loop step and every string concatenation is checked against the budget
of the render in progress, before the work is done: the render stops with
TemplateBudgetExceeded. The checks cost about a microsecond a step, and nothing is folded at
compile time (Jinja would compute `{{ 7 ** 17000000 }}` while a workflow is saved).
"""

import contextlib
import contextvars
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.filters import FILTERS
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

#: Defaults, for renders outside an executor (a save-time check, a test).
DEFAULT_SECONDS = 1.0
DEFAULT_BYTES = 1024 * 1024
#: Loop steps and calls between two looks at the clock.
_CLOCK_EVERY = 256
_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d+)")


class TemplateBudgetExceeded(Exception):
    """A render went past its time or size budget."""


@dataclass
class Budget:
    seconds: float = DEFAULT_SECONDS
    max_bytes: int = DEFAULT_BYTES
    deadline: float = field(default=0.0)
    steps: int = 0

    def start(self) -> "Budget":
        self.deadline = time.monotonic() + self.seconds
        return self

    def tick(self) -> None:
        self.steps += 1
        if self.steps % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TemplateBudgetExceeded(f"it ran longer than {self.seconds:g} s")

    def size(self, size: int, what: str) -> None:
        if size > self.max_bytes:
            raise TemplateBudgetExceeded(
                f"{what} would be about {size} bytes, over {self.max_bytes}"
            )


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "template_budget", default=None
)


def current() -> Budget:
    budget = _current.get()
    # Outside `budgeted()` (never in DocFlow's own renders): one step's worth of default budget.
    return budget if budget is not None else Budget().start()


@contextlib.contextmanager
def budgeted(seconds: float = DEFAULT_SECONDS, max_bytes: int = DEFAULT_BYTES) -> Iterator[Budget]:
    """The budget of the renders inside the block (one node's templates share one)."""
    budget = Budget(seconds, max_bytes).start()
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


@contextlib.contextmanager
def within_a_budget() -> Iterator[Budget]:
    """The budget in force, or a default one for the block."""
    budget = _current.get()
    if budget is not None:
        yield budget
        return
    with budgeted() as budget:
        yield budget


def _size(value: Any) -> int:
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return (value.bit_length() + 7) // 8
    if isinstance(value, str | bytes | list | tuple | dict):
        return len(value)
    return 0


def _check_binop(budget: Budget, operator: str, left: Any, right: Any) -> None:
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        budget.size(left.bit_length() * right // 8, f"{left} ** {right}")
    elif operator == "*":
        if ints:
            budget.size(_size(left) + _size(right), "a product")
        elif isinstance(right, int) and _size(left):
            budget.size(_size(left) * right, "a repeated value")
        elif isinstance(left, int) and _size(right):
            budget.size(_size(right) * left, "a repeated value")
    elif operator == "+" and not ints:
        budget.size(_size(left) + _size(right), "a concatenation")
    elif operator == "%" and isinstance(left, str):
        _check_printf(budget, left, right)


def _check_printf(budget: Budget, template: str, args: Any) -> None:
    values = args if isinstance(args, tuple) else (args,)
    widths = [int(n) for m in _WIDTH.finditer(template) for n in m.groups() if n and n != "*"]
    widths += [a for a in values if isinstance(a, int) and "*" in template]
    budget.size(len(template) + sum(widths), "a formatted string")


def _check_call(budget: Budget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # The sandbox hands out str.format wrapped; the wrapper keeps the method as __wrapped__.
    method = getattr(obj, "__wrapped__", obj)
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(method, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        budget.size(args[0], f"str.{name}()")
    elif name == "expandtabs":
        tab = args[0] if args and isinstance(args[0], int) else 8
        budget.size(len(owner) + owner.count("\t") * tab, "str.expandtabs()")
    elif name in ("format", "format_map"):
        widths = [int(n) for n in _FORMAT_WIDTH.findall(owner)]
        widths += [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
        budget.size(len(owner) + sum(widths), "str.format()")
    elif name == "join" and args and isinstance(args[0], list | tuple):
        total = sum(_size(item) for item in args[0]) + len(owner) * len(args[0])
        budget.size(total, "str.join()")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        count = owner.count(args[0]) if args[0] else len(owner) + 1
        budget.size(len(owner) + count * len(str(args[1])), "str.replace()")


def _bounded_filters() -> dict[str, Callable[..., Any]]:
    """The filters that take a width or a count, checked before they run."""

    def guard(name: str, check: Callable[..., None]) -> Callable[..., Any]:
        original = FILTERS[name]

        @wraps(original)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            check(current(), *args, **kwargs)
            return original(*args, **kwargs)

        return bounded

    def center(budget: Budget, value: Any, width: int = 80) -> None:
        budget.size(int(width), "center")

    def indent(budget: Budget, s: Any, width: Any = 4, *args: Any, **kwargs: Any) -> None:
        if isinstance(width, int):
            budget.size(len(str(s)) + (str(s).count("\n") + 1) * width, "indent")

    def fmt(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> None:
        _check_printf(budget, str(value), args or tuple(kwargs.values()))

    def count_of(what: str) -> Callable[..., None]:
        def check(budget: Budget, value: Any, count: Any = 1, *args: Any, **kwargs: Any) -> None:
            if isinstance(count, int):
                budget.size(count, what)

        return check

    def replace(budget: Budget, ctx: Any, s: Any, old: Any, new: Any, *args: Any) -> None:
        text, old_text = str(s), str(old)
        count = text.count(old_text) if old_text else len(text) + 1
        budget.size(len(text) + count * len(str(new)), "replace")

    filters = {
        "center": guard("center", center),
        "indent": guard("indent", indent),
        "format": guard("format", fmt),
        "batch": guard("batch", count_of("batch")),
        "slice": guard("slice", count_of("slice")),
        "replace": guard("replace", replace),
    }
    original_join = FILTERS["join"]

    @wraps(original_join)
    def join(ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        items = list(value)
        budget = current()
        budget.size(sum(_size(i) for i in items) + len(d) * len(items), "join")
        return original_join(ctx, items, d, attribute)

    filters["join"] = join
    return filters


class _Instrument(NodeTransformer):
    """Every `for` loop steps through the budget; every `~` is checked before it joins."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        visited = self.generic_visit(node)
        assert isinstance(visited, nodes.For)
        visited.iter = nodes.Call(
            nodes.EnvironmentAttribute("budgeted_iter"), [visited.iter], [], None, None
        )
        return visited

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        visited = self.generic_visit(node)
        assert isinstance(visited, nodes.Concat)
        attribute = nodes.EnvironmentAttribute("budgeted_concat")
        return nodes.Call(attribute, list(visited.nodes), [], None, None)


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    #: The operators that can make a value larger than their operands.
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any) -> None:
        # No constant folding: it would run `{{ 7 ** 17000000 }}` while a workflow is saved.
        super().__init__(optimized=False, **options)
        self.filters.update(_bounded_filters())
        # lipsum(n) writes n paragraphs; cycler and joiner are not needed by workflows.
        for name in ("lipsum", "cycler", "joiner"):
            self.globals.pop(name, None)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree: nodes.Template = _Instrument().visit(super()._parse(source, name, filename))
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        # Floats cannot grow past 8 bytes (an overflow raises): the common case goes straight on.
        if type(left) is not float and type(right) is not float:
            budget = current()
            budget.tick()
            _check_binop(budget, operator, left, right)
        return self.binop_table[operator](left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.tick()
        _check_call(budget, __obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def budgeted_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = current()
        for item in iterable:
            budget.tick()
            yield item

    def budgeted_concat(self, *parts: Any) -> Any:
        budget = current()
        budget.size(sum(len(str(part)) for part in parts), "a ~ concatenation")
        # What Jinja's own `~` does: escaped Markup where autoescaping is on.
        return markup_join(parts) if self.autoescape else str_join(parts)


def render_text(template: Any, namespace: dict[str, Any]) -> str:
    """A compiled template's output, stopped as soon as it outgrows the budget."""
    budget = current()
    pieces: list[str] = []
    size = 0
    for piece in template.generate(**namespace):
        size += len(piece)
        budget.size(size, "the output")
        pieces.append(piece)
    return "".join(pieces)

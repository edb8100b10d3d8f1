"""`when` on a node: checked when the workflow is saved, evaluated just before the node runs.

A `when` is a template over the same names as configs. Its typed value decides, by Python's
truthiness: falsy skips the node. A `when` that is not exactly one `{{ expression }}` renders to
a string, and every non-empty string is true — even `"false"` — so saving one is warned about.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pydantic_core
from jinja2 import Environment, StrictUndefined, TemplateSyntaxError
from jinja2 import nodes as ast

from shared.errors import TemplateError
from shared.templating import check_syntax, single_expression

#: Namespaces keyed by node id: a `when` may only name nodes that run before it.
NODE_KEYED = frozenset({"nodes", "errors", "approvals", "signatures"})
#: Filters whose result is always a string.
_STRING_FILTERS = frozenset(
    {"string", "lower", "upper", "title", "capitalize", "trim", "format", "join", "replace"}
    | {"center", "striptags", "truncate", "wordwrap", "indent", "urlencode", "e", "escape"}
)
#: A recorded value longer than this (as JSON) is kept as a shortened string.
MAX_RECORDED_CHARS = 500


@dataclass(frozen=True)
class Condition:
    """A `when` and what it rendered to (NodeCall.render: the names configs see)."""

    when: str
    value: Any

    @property
    def holds(self) -> bool:
        return bool(self.value)

    def record(self) -> dict[str, Any]:
        """For the step row: the expression and its value, JSON-safe and bounded."""
        value = pydantic_core.to_jsonable_python(self.value, fallback=repr)
        encoded = pydantic_core.to_json(value).decode()
        if len(encoded) > MAX_RECORDED_CHARS:
            value = encoded[:MAX_RECORDED_CHARS] + "…"
        return {"when": self.when, "value": value, "result": self.holds}


class NodeOutputs(dict[str, Any]):
    """`nodes` in templates once some node was skipped: a skipped node's output is undefined
    with a message naming it (`is defined` is false), not the bare "has no attribute"."""

    def __init__(self, outputs: dict[str, Any], skipped: Iterable[str]) -> None:
        super().__init__(outputs)
        self._skipped = frozenset(skipped)

    def __missing__(self, key: str) -> Any:
        if key in self._skipped:
            hint = (
                f"node {key!r} was skipped (its `when` was false), so it has no output; "
                f"test it with `nodes.{key} is defined`"
            )
        else:  # what a plain dict says, not this class's name
            hint = f"'dict object' has no attribute {key!r}"
        return StrictUndefined(hint=hint, name=key)


def when_errors(when: str, earlier: set[str]) -> list[str]:
    """What is wrong with a `when` whose node comes after the nodes `earlier`."""
    try:
        check_syntax(when)
    except TemplateError as e:
        return [str(e)]
    problems = []
    for name, node_id in sorted(set(_node_references(when))):
        if node_id not in earlier:
            problems.append(
                f"`when` refers to {name}.{node_id}, but {node_id!r} is not a node earlier "
                "in the workflow"
            )
    return problems


def renders_only_strings(when: str) -> bool:
    """True when `when` can only evaluate to a string (true unless empty, even "false")."""
    expression = single_expression(when)
    if expression is None:
        return True
    [output] = _parse("{{" + expression + "}}").body
    node = output.nodes[0] if isinstance(output, ast.Output) else None
    if isinstance(node, ast.Const):
        return isinstance(node.value, str)
    if isinstance(node, ast.Concat):
        return True
    return isinstance(node, ast.Filter) and node.name in _STRING_FILTERS


def _node_references(when: str) -> Iterator[tuple[str, str]]:
    """(namespace, node id) for each `nodes.x` / `nodes['x']` (and errors, approvals, …)."""
    template = _parse(when)
    methods: set[int] = set()  # ids of `nodes.get` & co. in calls: methods, not node ids
    for call in template.find_all(ast.Call):
        assert isinstance(call, ast.Call)
        callee = call.node
        if isinstance(callee, ast.Getattr) and _keyed(callee.node):
            methods.add(id(callee))
            first = call.args[0] if call.args else None
            # `nodes.get('crm')` names a node as much as `nodes.crm` does.
            if callee.attr == "get" and isinstance(first, ast.Const):
                yield _keyed(callee.node), str(first.value)
    for node in template.find_all((ast.Getattr, ast.Getitem)):
        assert isinstance(node, ast.Getattr | ast.Getitem)
        name = _keyed(node.node)
        if not name or id(node) in methods:
            continue
        if isinstance(node, ast.Getattr):
            yield name, node.attr
        elif isinstance(node.arg, ast.Const) and isinstance(node.arg.value, str):
            yield name, node.arg.value


def _keyed(node: ast.Node) -> str:
    """The namespace's name when `node` is one keyed by node id (`nodes`, `errors`, …)."""
    return node.name if isinstance(node, ast.Name) and node.name in NODE_KEYED else ""


@lru_cache(maxsize=1)
def _parser() -> Environment:
    # Only parses (never renders), so the sandbox is not needed here.
    return Environment()


def _parse(when: str) -> ast.Template:
    try:
        return _parser().parse(when)
    except TemplateSyntaxError as e:  # check_syntax ran first; kept for direct callers
        raise TemplateError(f"template does not parse: {e.message}") from e

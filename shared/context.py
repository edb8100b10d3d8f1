"""The execution context: what a run knows.

It is stored in two parts: each node's output in a row of its own (`execution_outputs`), and
the rest in `executions.context`. A checkpoint writes the outputs its node added and the rest
only when it changed (`added`), so what it writes does not grow with the run.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.conditions import NodeOutputs

JsonObject = dict[str, Any]


def _empty(value: Any) -> bool:
    # `errors` and `skipped` are left out of a snapshot while empty: a run that uses neither
    # `when` nor `on_error: continue` is saved as before they existed, and executors not yet
    # upgraded (which forbid unknown fields) still restore it.
    return not value


class ExecutionContext(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source_data: JsonObject = Field(default_factory=dict)
    generated_documents: list[JsonObject] = Field(default_factory=list)
    signature_requests: JsonObject = Field(default_factory=dict)
    approvals: JsonObject = Field(default_factory=dict)
    node_outputs: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)
    #: Errors of nodes that failed with `on_error: continue`, by node id: type, message,
    #: attempts.
    errors: JsonObject = Field(default_factory=dict, exclude_if=_empty)
    #: Nodes whose `when` was false, in the order they were skipped.
    skipped: list[str] = Field(default_factory=list, exclude_if=_empty)

    def with_output(self, node_id: str, output: Any) -> "ExecutionContext":
        return self.model_copy(update={"node_outputs": {**self.node_outputs, node_id: output}})

    def with_error(self, node_id: str, error: JsonObject) -> "ExecutionContext":
        return self.model_copy(update={"errors": {**self.errors, node_id: error}})

    def with_skip(self, node_id: str) -> "ExecutionContext":
        if node_id in self.skipped:
            return self
        return self.model_copy(update={"skipped": [*self.skipped, node_id]})

    def template_namespace(self) -> dict[str, Any]:
        """Names a template may use: `{{ source.deal.amount }}`, `{{ nodes.contract.url }}`."""
        return {
            "source": self.source_data,
            "nodes": NodeOutputs(self.node_outputs, self.skipped)
            if self.skipped
            else self.node_outputs,
            "documents": self.generated_documents,
            "signatures": self.signature_requests,
            "approvals": self.approvals,
            "metadata": self.metadata,
            "errors": self.errors,
        }


#: Every part of a context but the node outputs: what `executions.context` holds.
_REST = (
    "source_data",
    "generated_documents",
    "signature_requests",
    "approvals",
    "metadata",
    "errors",
    "skipped",
)
#: Fields a snapshot leaves out while empty (`exclude_if=_empty`).
LEFT_OUT_WHEN_EMPTY = frozenset(
    name for name, field in ExecutionContext.model_fields.items() if field.exclude_if is _empty
)


def snapshot(context: ExecutionContext) -> JsonObject:
    """The JSON form stored at a checkpoint."""
    return context.model_dump(mode="json")


def restore(
    stored: JsonObject | None, outputs: Mapping[str, Any] | None = None
) -> ExecutionContext:
    """The one way back from a checkpoint: `executions.context` with the execution's rows of
    `execution_outputs`; `restore(snapshot(c)) == c`."""
    return ExecutionContext.model_validate(whole(stored, outputs))


def whole(stored: JsonObject | None, outputs: Mapping[str, Any] | None) -> JsonObject:
    """The context as JSON, from its two stored parts (the node outputs a row each)."""
    if not outputs:
        return stored or {}
    earlier = (stored or {}).get("node_outputs") or {}
    return {**(stored or {}), "node_outputs": {**earlier, **outputs}}


def stored_rest(context: ExecutionContext) -> JsonObject:
    """What `executions.context` holds of `context`: everything but the node outputs."""
    rest = {name: getattr(context, name) for name in _REST}
    for name in LEFT_OUT_WHEN_EMPTY:
        if _empty(rest[name]):
            del rest[name]  # as in a snapshot: see `_empty`
    return rest


@dataclass(frozen=True)
class Added:
    """What a checkpoint writes of a context."""

    #: Node outputs new or changed since the last checkpoint, by node id.
    outputs: dict[str, Any]
    #: The rest (`stored_rest`) when it changed; None leaves `executions.context` as it is.
    rest: JsonObject | None


def added(before: ExecutionContext, after: ExecutionContext) -> Added:
    """What `after` adds to `before`, the context last checkpointed. Nodes make contexts by
    copying with changes (`with_output`…), so the parts they left alone are the same objects:
    the identity test answers almost every comparison without looking inside."""
    outputs = changed_outputs(before.node_outputs, after.node_outputs)
    changed = any(
        getattr(before, name) is not getattr(after, name)
        and getattr(before, name) != getattr(after, name)
        for name in _REST
    )
    return Added(outputs, stored_rest(after) if changed else None)


def changed_outputs(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs of `after` new or changed since `before`: the same object is unchanged,
    without looking inside."""
    return {
        node_id: output
        for node_id, output in after.items()
        if node_id not in before or (before[node_id] is not output and before[node_id] != output)
    }

"""The execution context: what a run knows, stored whole at every checkpoint."""

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


def snapshot(context: ExecutionContext) -> JsonObject:
    """The JSON form stored at a checkpoint."""
    return context.model_dump(mode="json")


def restore(stored: JsonObject | None) -> ExecutionContext:
    """The one way back from a checkpoint; `restore(snapshot(c)) == c`."""
    return ExecutionContext.model_validate(stored or {})

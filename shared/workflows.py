"""Workflow definitions and their save-time validation.

Everything that can be wrong with a definition is found here, when it is saved, and reported
with the field path at fault (`nodes[2].config.url`); nothing is left for run time.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.conditions import renders_only_strings, when_errors
from shared.errors import InvalidDefinition, TemplateError
from shared.nodes.base import NodeConfig
from shared.nodes.registry import ConfigRegistry
from shared.templating import check_syntax, template_strings
from shared.validation import field_errors

NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$"


class NodeDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=NODE_ID_PATTERN)
    type: str = Field(min_length=1, max_length=64)
    position: int = Field(ge=0)
    config: dict[str, Any] = Field(default_factory=dict)
    # `when` and `on_error` are left out when unused: a node without them is stored as before
    # they existed, so executors not yet upgraded (which forbid unknown fields) still read it.
    #: A template; falsy skips the node (a `skipped` step, no output). None: always runs.
    when: str | None = Field(default=None, max_length=2000, exclude_if=lambda v: v is None)
    #: `continue`: once its retries are spent, a failed node leaves its error in
    #: `errors.<id>` and the run goes on.
    on_error: Literal["fail", "continue"] = Field(default="fail", exclude_if=lambda v: v == "fail")


class WorkflowDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    nodes: list[NodeDefinition] = Field(min_length=1, max_length=500)

    def ordered_nodes(self) -> list[NodeDefinition]:
        return sorted(self.nodes, key=lambda node: node.position)


def validate_definition(raw: Any, configs: ConfigRegistry) -> WorkflowDefinition:
    """Return the definition, or raise InvalidDefinition listing every field at fault."""
    try:
        definition = WorkflowDefinition.model_validate(raw)
    except ValidationError as e:
        raise InvalidDefinition(field_errors(e)) from e
    errors: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    seen_positions: set[int] = set()
    event_names: set[str] = set()
    first_position = min(node.position for node in definition.nodes)
    for index, node in enumerate(definition.nodes):
        where = f"nodes[{index}]"
        if node.id in seen_ids:
            errors.append({"field": f"{where}.id", "message": f"duplicate node id {node.id!r}"})
        if node.position in seen_positions:
            errors.append(
                {"field": f"{where}.position", "message": f"duplicate position {node.position}"}
            )
        seen_ids.add(node.id)
        seen_positions.add(node.position)
        model = configs.get(node.type)
        if model is None:
            known = ", ".join(sorted(configs))
            errors.append(
                {
                    "field": f"{where}.type",
                    "message": f"unknown node type {node.type!r}; known types: {known}",
                }
            )
            continue
        if node.type == "trigger" and node.position != first_position:
            errors.append({"field": f"{where}.type", "message": "a trigger must be the first node"})
        errors.extend(_config_errors(model, node.config, f"{where}.config"))
        errors.extend(_when_errors(definition, index))
        if node.type == "event":
            # Events are delivered by name: one name, one node.
            name = node.config.get("name")
            if name in event_names:
                errors.append(
                    {"field": f"{where}.config.name", "message": f"duplicate event name {name!r}"}
                )
            event_names.add(str(name))
    if errors:
        raise InvalidDefinition(errors)
    return definition


def definition_warnings(definition: WorkflowDefinition) -> list[dict[str, Any]]:
    """What is allowed but probably not meant: a `when` that can only render a string."""
    return [
        {
            "field": f"nodes[{index}].when",
            "message": "this `when` can only render a string, and every string but '' is "
            'true (even "false"); write one {{ expression }}, e.g. '
            "{{ source.deal.amount > 50000 }}",
        }
        for index, node in enumerate(definition.nodes)
        if node.when is not None and renders_only_strings(node.when)
    ]


def _when_errors(definition: WorkflowDefinition, index: int) -> list[dict[str, Any]]:
    node = definition.nodes[index]
    if node.when is None:
        return []
    where = f"nodes[{index}].when"
    if node.type == "trigger":
        return [{"field": where, "message": "the trigger always runs: it cannot have `when`"}]
    # Earlier by position, as the nodes run; the list may be saved in any order.
    earlier = {other.id for other in definition.nodes if other.position < node.position}
    return [{"field": where, "message": message} for message in when_errors(node.when, earlier)]


def _config_errors(
    model: type[NodeConfig], config: dict[str, Any], where: str
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    try:
        model.model_validate(config)
    except ValidationError as e:
        errors.extend(field_errors(e, where))
    for path, template in template_strings(config, where):
        try:
            check_syntax(template)
        except TemplateError as e:
            errors.append({"field": path, "message": str(e)})
    return errors


def parse_config(model: type[NodeConfig], config: dict[str, Any]) -> NodeConfig:
    """Config of a definition that was validated when saved."""
    return model.model_validate(config)

"""The executor's node-type registry: an explicit dict built at start-up from the shared list
of node types (shared/nodes/registry.py)."""

import importlib
from collections.abc import Iterable, Mapping

from services.executor.nodes.base import NodeType
from shared.errors import DocflowError
from shared.nodes.registry import NODE_TYPES, NodeTypeEntry

NodeRegistry = Mapping[str, NodeType]


class UnknownNodeType(DocflowError):
    pass


def core_node_types() -> list[NodeType]:
    """One instance of every node type in the shared list, NODE_TYPES."""
    return [implementation(entry)() for entry in NODE_TYPES]


def implementation(entry: NodeTypeEntry) -> type[NodeType]:
    """The executor's class for `entry`; it must agree with the entry on name and config."""
    module_name, class_name = entry.implementation.split(":")
    found = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(found, type) and issubclass(found, NodeType)):
        raise TypeError(f"{entry.implementation} is not a node type")
    if (found.type_name, found.config_model) != (entry.name, entry.config):
        raise TypeError(
            f"{entry.implementation} says it is {found.type_name!r} with "
            f"{found.config_model.__name__}; NODE_TYPES says {entry.name!r} with "
            f"{entry.config.__name__}"
        )
    return found


def build_node_registry(node_types: Iterable[NodeType]) -> NodeRegistry:
    registry: dict[str, NodeType] = {}
    for node_type in node_types:
        if node_type.type_name in registry:
            raise ValueError(f"node type {node_type.type_name!r} registered twice")
        registry[node_type.type_name] = node_type
    return registry


def lookup(registry: NodeRegistry, type_name: str) -> NodeType:
    try:
        return registry[type_name]
    except KeyError:
        raise UnknownNodeType(f"no node type {type_name!r} in this executor") from None

"""One list of node types builds both the gateway's config registry and the executor's."""

import pytest

from services.executor.nodes.registry import build_node_registry, core_node_types, implementation
from shared.nodes.core import SetConfig
from shared.nodes.registry import NODE_TYPES, NodeTypeEntry, build_config_registry


def test_the_validator_and_the_executor_know_the_same_node_types() -> None:
    configs = build_config_registry()
    executor = build_node_registry(core_node_types())

    assert list(configs) == list(executor) == [entry.name for entry in NODE_TYPES]
    for name, node_type in executor.items():
        assert node_type.config_model is configs[name]


def test_an_entry_that_disagrees_with_its_implementation_is_refused() -> None:
    wrong_name = NodeTypeEntry("assign", SetConfig, "services.executor.nodes.set_values:SetNode")
    not_a_node = NodeTypeEntry("set", SetConfig, "shared.nodes.core:SetConfig")

    with pytest.raises(TypeError, match="NODE_TYPES says 'assign'"):
        implementation(wrong_name)
    with pytest.raises(TypeError, match="is not a node type"):
        implementation(not_a_node)

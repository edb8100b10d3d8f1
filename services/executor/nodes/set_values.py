from typing import ClassVar

from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType
from shared.nodes.core import SetConfig


class SetNode(NodeType):
    """Assigns values computed from templates; its output is the rendered values."""

    type_name: ClassVar[str] = "set"
    config_model = SetConfig

    async def run(self, call: NodeCall) -> NodeResult:
        assert isinstance(call.config, SetConfig)
        return Completed(output=call.render(call.config.values))

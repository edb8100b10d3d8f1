from typing import ClassVar

from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType
from shared.nodes.core import TriggerConfig


class TriggerNode(NodeType):
    """First node: the run's trigger data becomes `source_data`."""

    type_name: ClassVar[str] = "trigger"
    config_model = TriggerConfig

    async def run(self, call: NodeCall) -> NodeResult:
        context = call.context.model_copy(update={"source_data": call.trigger_data})
        return Completed(output={"received": True}, context=context)

"""A wait that asks to be settled when it opens sees facts that arrived before the pause."""

from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType, Wait
from services.executor.nodes.registry import core_node_types
from services.executor.worker import ExecutorWorker
from shared.nodes.base import NodeConfig
from shared.runtime import Resources
from shared.state_machine.waits import WaitRecord, WaitSpec
from tests.support import seed_workflow, start_execution, wait_for_status, waits_of


class GateConfig(NodeConfig):
    pass


class EarlyFactGate(NodeType):
    """Stands in for a signature node whose last signer signed before the pause committed."""

    type_name: ClassVar[str] = "early-gate"
    config_model = GateConfig

    async def run(self, call: NodeCall) -> NodeResult:
        return Wait(WaitSpec(kind="signature", settle_on_open=True))

    async def settle(
        self, conn: AsyncConnection, wait: WaitRecord, reason: str
    ) -> dict[str, Any] | None:
        return {"outcome": "signed", "seen_on": reason} if reason == "opened" else None

    async def resume(self, call: NodeCall, wait: WaitRecord) -> NodeResult:
        return Completed(output=wait.decision)


async def test_a_wait_settled_on_open_resumes_without_any_later_event(
    resources: Resources,
) -> None:
    worker = ExecutorWorker(resources, [*core_node_types(), EarlyFactGate()])
    await worker.start()
    try:
        definition = {
            "name": "early",
            "nodes": [
                {"id": "gate", "type": "early-gate", "position": 0, "config": {}},
                {"id": "after", "type": "set", "position": 1, "config": {"values": {"x": 1}}},
            ],
        }
        workspace_id, workflow_id = await seed_workflow(resources, definition, validate=False)
        execution_id = await start_execution(resources, workspace_id, workflow_id)
        done = await wait_for_status(resources, execution_id, "completed", "failed")
    finally:
        await worker.stop()
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["gate"] == {"outcome": "signed", "seen_on": "opened"}
    [wait] = await waits_of(resources, execution_id)
    assert wait.status == "decided"

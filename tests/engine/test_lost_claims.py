"""A claim the database lost in a crash is claimed again, not acknowledged and forgotten.

Claims commit without waiting for the log's flush (shared/db/commit_without_flush.py), so a
database crash can take a claim back after its worker went on. The worker finds out at its
next write, which the row refuses. Normally a refused write means another worker has the run
(or it was cancelled), and the message is done with; here the row is back below the claim's
version, and the message must go back to the queue for the next delivery to claim again.

The crash is played by putting the row back as it was before the claim, while the claimed run
is inside its first node.
"""

import asyncio
import uuid
from typing import Any, ClassVar

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Row

from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType
from services.executor.nodes.registry import core_node_types
from services.executor.progress import RunProgress
from services.executor.steps import start_step
from services.executor.worker import ExecutorWorker
from shared.broker.topology import RUN
from shared.db.tables import Execution, ExecutionTransition
from shared.errors import StaleVersion
from shared.messages import RunExecution
from shared.nodes.base import NodeConfig
from shared.runtime import Resources
from shared.state_machine.claim import claim_run
from tests.support import seed_workflow, start_execution, steps_of, wait_for_status

WORKFLOW = {
    "name": "a claim lost with the database",
    "nodes": [
        {"id": "held", "type": "held-once", "position": 0, "config": {}},
        {"id": "after", "type": "set", "position": 1, "config": {"values": {"done": True}}},
    ],
}


class HeldConfig(NodeConfig):
    pass


class HeldOnce(NodeType):
    """Its first call waits for the test (which meanwhile plays the crash); later ones don't."""

    type_name: ClassVar[str] = "held-once"
    config_model = HeldConfig

    def __init__(self) -> None:
        self.calls = 0
        self.inside = asyncio.Event()
        self.go_on = asyncio.Event()

    async def run(self, call: NodeCall) -> NodeResult:
        self.calls += 1
        if self.calls == 1:
            self.inside.set()
            await self.go_on.wait()
        return Completed(output={"call": self.calls})


async def test_a_run_whose_claim_the_database_lost_is_claimed_again(resources: Resources) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, WORKFLOW, validate=False)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    before = await _row(resources, execution_id)
    held = HeldOnce()
    worker = ExecutorWorker(resources, [*core_node_types(), held])
    await worker.start()
    try:
        await resources.broker.publish(RUN, RunExecution(execution_id=execution_id))
        await asyncio.wait_for(held.inside.wait(), timeout=20)
        await _lose_the_claim(resources, before)
        held.go_on.set()
        done = await wait_for_status(resources, execution_id, "completed", "failed")
    finally:
        await worker.stop()

    assert done.status == "completed", done.error
    assert held.calls == 2  # once under the lost claim, once under the claim that held
    assert done.context["node_outputs"]["held"] == {"call": 2}
    steps = await steps_of(resources, execution_id)
    assert [(s.node_id, s.status) for s in steps] == [
        ("held", "completed"),
        ("after", "completed"),
    ]


async def test_no_side_effect_starts_under_a_claim_the_database_lost(resources: Resources) -> None:
    """A side-effecting node records its started step first, and only under the claim: a
    worker whose claim is gone records nothing and so starts nothing."""
    workspace_id, workflow_id = await seed_workflow(resources, WORKFLOW, validate=False)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    before = await _row(resources, execution_id)

    async def claimed() -> RunProgress:
        claim = await claim_run(
            resources.engine,
            execution_id,
            owner="worker-a",
            lease_seconds=30,
            first_node_id=lambda *_: _first("held"),
        )
        assert claim is not None
        return RunProgress.of(claim)

    gone = await claimed()
    await _lose_the_claim(resources, before)
    with pytest.raises(StaleVersion):
        await start_step(resources.engine, gone, "held", "held-once", owner="worker-a", budget=3)
    assert await steps_of(resources, execution_id) == []

    held = await claimed()
    step_id = await start_step(
        resources.engine, held, "held", "held-once", owner="worker-a", budget=3
    )
    assert [s.id for s in await steps_of(resources, execution_id)] == [step_id]


async def _first(node_id: str) -> str:
    return node_id


async def _row(resources: Resources, execution_id: uuid.UUID) -> Row[Any]:
    async with resources.engine.connect() as conn:
        return (await conn.execute(select(Execution).where(Execution.id == execution_id))).one()


async def _lose_the_claim(resources: Resources, before: Row[Any]) -> None:
    """The crash: the claim's commit never reached the disk, so the row is as it was before."""
    async with resources.engine.begin() as conn:
        await conn.execute(
            update(Execution)
            .where(Execution.id == before.id)
            .values(
                status=before.status,
                version=before.version,
                current_node_id=before.current_node_id,
                started_at=before.started_at,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        await conn.execute(
            delete(ExecutionTransition).where(
                ExecutionTransition.execution_id == before.id,
                ExecutionTransition.to_status == "running",
            )
        )

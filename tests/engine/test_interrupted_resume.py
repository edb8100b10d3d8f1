"""A worker that dies between deciding a wait and checkpointing the node: the next owner
resumes the node with the decision instead of running it again."""

from datetime import timedelta

from sqlalchemy import update

from shared.broker.topology import RUN
from shared.db.tables import Execution
from shared.db.types import utcnow
from shared.messages import RunExecution
from shared.runtime import Resources
from shared.state_machine import resume as claims
from shared.state_machine.waits import WaitRecord
from tests.support import seed_workflow, start_execution, steps_of, wait_for_status, waits_of


async def _decide(_conn: object, _node: str, _wait: WaitRecord) -> dict[str, str]:
    return {"outcome": "timer_due"}


async def test_a_resume_interrupted_before_its_checkpoint_is_finished_not_restarted(
    resources: Resources, executor: object
) -> None:
    definition = {
        "name": "long wait",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "pause", "type": "delay", "position": 1, "config": {"seconds": 3600}},
            {"id": "after", "type": "set", "position": 2, "config": {"values": {"x": 1}}},
        ],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    execution_id = await start_execution(resources, workspace_id, workflow_id)
    await wait_for_status(resources, execution_id, "paused")
    [wait] = await waits_of(resources, execution_id)

    # A worker decides the wait and claims the run, then dies before running the node.
    doomed = await claims.claim_resume(
        resources.engine, execution_id, wait.id, owner="doomed", lease_seconds=30, settle=_decide
    )
    assert doomed is not None
    async with resources.sessions.begin() as session:
        await session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    await resources.broker.publish(RUN, RunExecution(execution_id=execution_id))
    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["pause"]["waited"] is True
    steps = [(s.node_id, s.attempt, s.status) for s in await steps_of(resources, execution_id)]
    assert steps == [
        ("start", 1, "completed"),
        ("pause", 1, "completed"),
        ("after", 1, "completed"),
    ]
    assert [w.status for w in await waits_of(resources, execution_id)] == ["decided"]

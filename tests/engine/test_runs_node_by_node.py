from services.executor.worker import ExecutorWorker
from shared.runtime import Resources
from tests.support import (
    Receiver,
    seed_workflow,
    start_execution,
    steps_of,
    three_node_workflow,
    wait_for_status,
)


async def test_a_three_node_workflow_completes_with_each_step_timed(
    resources: Resources, executor: ExecutorWorker, receiver: Receiver
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, three_node_workflow(receiver.url))
    execution_id = await start_execution(
        resources, workspace_id, workflow_id, {"deal": {"amount": 21}}
    )

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["price"] == {"total": 42}
    assert done.context["source_data"] == {"deal": {"amount": 21}}
    assert done.execution_time_ms is not None and done.finished_at is not None
    steps = await steps_of(resources, execution_id)
    assert [(s.node_id, s.status, s.attempt) for s in steps] == [
        ("start", "completed", 1),
        ("price", "completed", 1),
        ("notify", "completed", 1),
    ]
    for step in steps:
        assert step.duration_ms is not None and step.completed_at is not None
        assert step.completed_at >= step.started_at
    assert receiver.keys() == [f"{execution_id}:notify"]
    assert receiver.calls[0]["body"] == b'{"total":42}'

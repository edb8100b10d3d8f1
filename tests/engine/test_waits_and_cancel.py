"""Timer waits, cancellation, and versions pinned across a pause."""

from datetime import timedelta
from typing import Any

from shared.broker.topology import RUN
from shared.db.types import utcnow
from shared.messages import CancelExecution
from shared.runtime import Resources
from tests.support import (
    add_version,
    eventually,
    execution_row,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
    waits_of,
)


def delayed(seconds: float, label: str = "v1") -> dict[str, Any]:
    return {
        "name": "wait a little",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "pause", "type": "delay", "position": 1, "config": {"seconds": seconds}},
            {"id": "after", "type": "set", "position": 2, "config": {"values": {"label": label}}},
        ],
    }


async def test_a_delay_node_pauses_without_a_worker_and_resumes_when_due(
    resources: Resources, executor: object, scheduler: object
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, delayed(0.3))
    execution_id = await start_execution(resources, workspace_id, workflow_id)

    paused = await wait_for_status(resources, execution_id, "paused")
    assert paused.current_node_id == "pause" and paused.lease_owner is None
    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["pause"]["waited"] is True
    steps = [(s.node_id, s.status) for s in await steps_of(resources, execution_id)]
    assert steps == [("start", "completed"), ("pause", "completed"), ("after", "completed")]
    [wait] = await waits_of(resources, execution_id)
    assert (wait.kind, wait.status) == ("timer", "decided")


async def test_a_delay_until_a_past_time_does_not_wait(
    resources: Resources, executor: object
) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    definition = {
        "name": "until",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "pause", "type": "delay", "position": 1, "config": {"until": "{{ source.at }}"}},
        ],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    execution_id = await start_execution(resources, workspace_id, workflow_id, {"at": past})

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert await waits_of(resources, execution_id) == []


async def test_cancelling_a_paused_execution_closes_its_wait(
    resources: Resources, executor: object, scheduler: object
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, delayed(3600))
    execution_id = await start_execution(resources, workspace_id, workflow_id)
    await wait_for_status(resources, execution_id, "paused")

    await resources.broker.publish(RUN, CancelExecution(execution_id=execution_id))
    done = await wait_for_status(resources, execution_id, "cancelled")

    assert done.finished_at is not None and done.error == "cancelled on request"
    [wait] = await waits_of(resources, execution_id)
    assert wait.status == "cancelled"
    pause_step = [s for s in await steps_of(resources, execution_id) if s.node_id == "pause"]
    assert [s.status for s in pause_step] == ["cancelled"]


async def test_an_execution_keeps_the_version_it_started_with_across_a_pause(
    resources: Resources, executor: object, scheduler: object
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, delayed(0.5, "v1"))
    execution_id = await start_execution(resources, workspace_id, workflow_id)
    await wait_for_status(resources, execution_id, "paused")

    assert await add_version(resources, workflow_id, delayed(0.0, "v2")) == 2
    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.workflow_version == 1
    assert done.context["node_outputs"]["after"] == {"label": "v1"}


async def test_an_undefined_template_name_fails_the_node_with_the_name(
    resources: Resources, executor: object
) -> None:
    definition = {
        "name": "typo",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "price",
                "type": "set",
                "position": 1,
                "config": {"values": {"total": "{{ source.deal.amount }}"}},
            },
        ],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    execution_id = await start_execution(resources, workspace_id, workflow_id, {"deal": {}})

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert done.error is not None and "amount" in done.error and "'price'" in done.error


async def test_a_second_cancel_of_a_finished_execution_changes_nothing(
    resources: Resources, executor: object
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, delayed(0.0))
    execution_id = await start_execution(resources, workspace_id, workflow_id)
    done = await wait_for_status(resources, execution_id, "completed")

    await resources.broker.publish(RUN, CancelExecution(execution_id=execution_id))
    # A later message in the same queue proves the cancel was handled before we look.
    marker_id = await start_execution(resources, workspace_id, workflow_id)
    await wait_for_status(resources, marker_id, "completed")

    after = await eventually(lambda: execution_row(resources, execution_id))
    assert (after.status, after.version) == ("completed", done.version)

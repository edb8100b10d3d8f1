"""Duplicate deliveries and competing workers never repeat a completed node's side effect."""

import asyncio
import uuid

from shared.broker.topology import RUN
from shared.messages import RunExecution
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.processes import executor_processes
from tests.support import Receiver, seed_workflow, start_execution, steps_of, wait_for_status


def counted(url: str) -> dict[str, object]:
    return {
        "name": "count calls",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "call", "type": "webhook", "position": 1, "config": {"url": url}},
            {"id": "after", "type": "set", "position": 2, "config": {"values": {"ok": True}}},
        ],
    }


async def test_a_run_message_delivered_three_times_to_two_executor_processes_calls_out_once(
    pg_settings: Settings, receiver: Receiver
) -> None:
    async with open_resources(pg_settings) as resources:
        workspace_id, workflow_id = await seed_workflow(resources, counted(receiver.url))
        async with executor_processes(pg_settings, 2):
            executions: list[uuid.UUID] = []
            for _ in range(10):
                execution_id = await start_execution(
                    resources, workspace_id, workflow_id, publish=False
                )
                executions.append(execution_id)
            # Every run message three times, interleaved, so both processes race for each run.
            for _ in range(3):
                for execution_id in executions:
                    await resources.broker.publish(RUN, RunExecution(execution_id=execution_id))
            for execution_id in executions:
                done = await wait_for_status(resources, execution_id, "completed", "failed")
                assert done.status == "completed", done.error
        assert sorted(receiver.keys()) == sorted(f"{e}:call" for e in executions)
        for execution_id in executions:
            steps = await steps_of(resources, execution_id)
            assert [(s.node_id, s.attempt) for s in steps] == [
                ("start", 1),
                ("call", 1),
                ("after", 1),
            ]


async def test_duplicate_run_messages_in_one_worker_run_each_node_once(
    resources: Resources, executor: object, receiver: Receiver
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, counted(receiver.url))
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    await asyncio.gather(
        *(resources.broker.publish(RUN, RunExecution(execution_id=execution_id)) for _ in range(3))
    )
    done = await wait_for_status(resources, execution_id, "completed", "failed")
    assert done.status == "completed"
    assert receiver.keys() == [f"{execution_id}:call"]

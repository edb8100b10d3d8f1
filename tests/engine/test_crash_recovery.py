"""A worker killed mid-node: another finishes the run after the lease expires."""

import signal

from shared.runtime import open_resources
from shared.settings import Settings
from tests.processes import executor_processes, spawn, stop
from tests.support import (
    Receiver,
    eventually,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
)


async def test_kill_9_mid_webhook_lets_another_executor_finish_with_the_same_idempotency_key(
    pg_settings: Settings, receiver: Receiver
) -> None:
    settings = pg_settings.model_copy(update={"lease_seconds": 2.0})
    slow = await Receiver(delay_seconds=30.0).start()
    try:
        definition = {
            "name": "crash mid-node",
            "nodes": [
                {"id": "start", "type": "trigger", "position": 0, "config": {}},
                {"id": "first", "type": "webhook", "position": 1, "config": {"url": receiver.url}},
                {
                    "id": "slow",
                    "type": "webhook",
                    "position": 2,
                    "config": {"url": slow.url, "timeout_seconds": 60},
                },
                {"id": "end", "type": "set", "position": 3, "config": {"values": {"done": True}}},
            ],
        }
        async with open_resources(settings) as resources:
            workspace_id, workflow_id = await seed_workflow(resources, definition)
            async with executor_processes(settings, 1) as (doomed,):
                execution_id = await start_execution(resources, workspace_id, workflow_id)
                await eventually(lambda: _count(slow), lambda n: n == 1)
                await stop(doomed, signal.SIGKILL)
            slow.delay_seconds = 0.0
            scheduler = await spawn(settings, "scheduler")
            try:
                async with executor_processes(settings, 1):
                    done = await wait_for_status(
                        resources, execution_id, "completed", "failed", within=40
                    )
            finally:
                await stop(scheduler)
            assert done.status == "completed", done.error
            assert receiver.keys() == [f"{execution_id}:first"]
            assert slow.keys() == [f"{execution_id}:slow", f"{execution_id}:slow"]
            steps = await steps_of(resources, execution_id)
            assert [(s.node_id, s.attempt, s.status) for s in steps] == [
                ("start", 1, "completed"),
                ("first", 1, "completed"),
                ("slow", 1, "interrupted"),
                ("slow", 2, "completed"),
                ("end", 1, "completed"),
            ]
    finally:
        await slow.stop()


async def _count(receiver: Receiver) -> int:
    return len(receiver.calls)

"""Execution events go out in batches, one broker message per event name, and a subscriber
bound to one name gets exactly that name's events, in the order they were emitted."""

import asyncio
import uuid

from services.executor.events import Events, execution_event
from shared.messages import ExecutionEvent
from shared.runtime import Resources
from tests.support import eventually


def _event(name: str, execution_id: uuid.UUID, node_id: str) -> ExecutionEvent:
    ids = uuid.uuid4()
    return execution_event(
        name, "running", execution_id=execution_id, workflow_id=ids, workspace_id=ids,
        node_id=node_id,
    )  # fmt: skip


async def test_a_subscriber_of_one_event_name_gets_only_those_events_in_emitted_order(
    resources: Resources,
) -> None:
    completed: list[ExecutionEvent] = []
    everything: list[ExecutionEvent] = []

    async def on_completed(item: ExecutionEvent) -> None:
        completed.append(item)

    async def on_any(item: ExecutionEvent) -> None:
        everything.append(item)

    only_completed = await resources.broker.subscribe_events(on_completed, "node.completed")
    all_events = await resources.broker.subscribe_events(on_any, "#")
    try:
        events = Events(resources.broker)
        runs = [uuid.uuid4() for _ in range(5)]
        # Emitted in one turn of the loop, as 5 runs finishing a node at once would.
        for node in ("a", "b"):
            for run in runs:
                events.emit(_event("node.started", run, node), _event("node.completed", run, node))
        await events.flush()

        await eventually(lambda: asyncio.sleep(0, len(everything)), lambda n: n == 20)
        await eventually(lambda: asyncio.sleep(0, len(completed)), lambda n: n == 10)
        assert [(e.execution_id, e.node_id) for e in completed] == [
            (run, node) for node in ("a", "b") for run in runs
        ]
        assert all(e.event == "node.completed" for e in completed)
        assert (
            sorted(e.event for e in everything) == ["node.completed"] * 10 + ["node.started"] * 10
        )
    finally:
        await only_completed.cancel()
        await all_events.cancel()

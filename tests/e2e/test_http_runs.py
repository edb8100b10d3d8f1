"""Over HTTP, end to end: accepted at once, run node by node, and never lost to a broker outage."""

from typing import Any

from sqlalchemy import func, select

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.db.tables import OutboxMessage
from shared.messages import ExecutionEvent
from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway
from tests.proxy import CuttableProxy
from tests.support import (
    Receiver,
    eventually,
    execution_row,
    steps_of,
    three_node_workflow,
    until_heard,
    wait_for_status,
)


async def test_a_run_is_accepted_before_any_node_runs_then_advances_node_by_node(
    settings: Settings, receiver: Receiver
) -> None:
    receiver.delay_seconds = 1.0
    async with open_resources(settings) as resources, running_gateway(resources) as gateway:
        workflow = await gateway.create_workflow(three_node_workflow(receiver.url))
        # No executor is running yet: whatever the answer is, no node can have run.
        accepted = await gateway.start(workflow["id"], {"trigger_data": {"deal": {"amount": 5}}})
        assert accepted["status"] == "queued"
        execution_id = accepted["execution_id"]
        queued = await _get(gateway, execution_id)
        assert (queued["status"], queued["steps"]) == ("queued", [])

        seen: list[ExecutionEvent] = []

        async def record(event: ExecutionEvent) -> None:
            seen.append(event)

        subscription = await resources.broker.subscribe_events(record, "#")
        executor = ExecutorWorker(resources)
        await executor.start()
        try:
            # While the webhook is held open, the execution says where it is.
            running = await eventually(
                lambda: _get(gateway, execution_id), lambda e: e["current_node_id"] == "notify"
            )
            assert running["status"] == "running"
            assert [s["node_id"] for s in running["steps"] if s["status"] == "completed"] == [
                "start",
                "price",
            ]
            done = await eventually(
                lambda: _get(gateway, execution_id), lambda e: e["status"] == "completed"
            )
            await until_heard(seen, "node.completed", "notify")
        finally:
            await executor.stop()
            await subscription.cancel()

    assert done["context"]["node_outputs"]["price"] == {"total": 10}
    assert [s["node_id"] for s in done["steps"]] == ["start", "price", "notify"]
    for step in done["steps"]:
        assert step["status"] == "completed" and step["attempt"] == 1
        assert step["started_at"] <= step["completed_at"] and step["duration_ms"] >= 0
    assert done["steps"][2]["duration_ms"] >= 900  # the receiver held it for a second
    # Events arrive in batches of one name each; across names, `at` orders them.
    seen.sort(key=lambda e: e.at)
    node_events = [(e.event, e.node_id) for e in seen if e.event.startswith("node.")]
    assert node_events == [
        ("node.started", "start"),
        ("node.completed", "start"),
        ("node.started", "price"),
        ("node.completed", "price"),
        ("node.started", "notify"),
        ("node.completed", "notify"),
    ]
    assert [e.event for e in seen if e.event.startswith("execution.")] == [
        "execution.started",
        "execution.completed",
    ]


async def test_a_run_accepted_while_the_broker_is_unreachable_still_runs_once_it_is_back(
    pg_settings: Settings, receiver: Receiver
) -> None:
    host, port = "127.0.0.1", 5672
    proxy = await CuttableProxy(host, port).start()
    via_proxy = pg_settings.model_copy(
        update={"amqp_url": f"amqp://guest:guest@127.0.0.1:{proxy.port}/"}
    )
    try:
        async with (
            open_resources(pg_settings) as worker_side,
            open_resources(via_proxy) as gateway_side,
            running_gateway(gateway_side) as gateway,
        ):
            workflow = await gateway.create_workflow(three_node_workflow(receiver.url))
            await proxy.cut()

            accepted = await gateway.start(
                workflow["id"], {"trigger_data": {"deal": {"amount": 1}}}
            )

            assert accepted["status"] == "queued"
            execution_id = accepted["execution_id"]
            row = await execution_row(worker_side, execution_id)
            assert row.status == "queued"
            # The run is not lost: it waits in the outbox, committed with the execution.
            assert await _outbox_rows(worker_side) == 1
            executor = ExecutorWorker(worker_side)
            scheduler = Scheduler(worker_side)
            await executor.start()
            await scheduler.start()
            try:
                await proxy.restore()
                done = await wait_for_status(worker_side, row.id, "completed", "failed")
            finally:
                await scheduler.stop()
                await executor.stop()
            assert done.status == "completed", done.error
            assert receiver.keys() == [f"{execution_id}:notify"]
            assert await _outbox_rows(worker_side) == 0
            assert [s.attempt for s in await steps_of(worker_side, row.id)] == [1, 1, 1]
    finally:
        await proxy.cut()


async def _get(gateway: Gateway, execution_id: str) -> dict[str, Any]:
    response = await gateway.client.get(f"/api/v1/executions/{execution_id}", headers=gateway.auth)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def _outbox_rows(resources: Any) -> int:
    async with resources.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

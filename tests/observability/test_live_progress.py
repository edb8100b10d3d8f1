"""Live progress over Server-Sent Events: replay, then live, resumable with Last-Event-ID."""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from services.executor.worker import ExecutorWorker
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway
from tests.gateway.documented import answer_content, served_document, violations
from tests.observability.support import five_nodes, gates, read_events, take_until
from tests.support import eventually, steps_of

NODES = ["start", "price", "slow", "sum", "last"]
EVERY_EVENT = [
    *[(name, node) for node in NODES for name in ("node.started", "node.completed")],
    ("execution.completed", None),
]


def _events_path(execution_id: str) -> str:
    return f"/api/v1/executions/{execution_id}/events"


#: A run that starts and then waits an hour.
PAUSING = {
    "name": "pause",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {}},
        {"id": "nap", "type": "delay", "position": 1, "config": {"seconds": 3600}},
    ],
}


async def test_an_sse_client_sees_every_step_in_order_and_resumes_after_a_reconnect_missing_nothing(
    settings: Settings,
) -> None:
    async with (
        gates() as target,
        open_resources(settings) as resources,
        running_gateway(resources) as gateway,
    ):
        target.gate("slow"), target.gate("last")
        workflow = await gateway.create_workflow(five_nodes(target.url))
        execution_id = (await gateway.start(workflow["id"], {}))["execution_id"]
        # Connected while the run is still queued: nothing to replay yet.
        first = await gateway.client.get(_events_path(execution_id), headers=gateway.auth)
        assert first.status == 200
        assert first.headers["Content-Type"] == "text/event-stream"
        executor = ExecutorWorker(resources)
        await executor.start()
        try:
            seen = await take_until(read_events(first), "node.started", "slow")
            first.close()
            # While nobody listens, the run moves on to the last node.
            target.gate("slow").set()
            await eventually(
                lambda: steps_of(resources, uuid.UUID(execution_id)),
                lambda steps: [s.node_id for s in steps][-1:] == ["last"],
            )
            second = await gateway.client.get(
                _events_path(execution_id),
                headers={**gateway.auth, "Last-Event-ID": seen[-1].id or ""},
            )
            assert second.status == 200
            stream = read_events(second)
            replayed = await take_until(stream, "node.started", "last")
            target.gate("last").set()
            live = await take_until(stream, "execution.completed")
            # The stream ends with the execution.
            assert await asyncio.wait_for(second.content.read(), 10) == b""
        finally:
            await executor.stop()

        received = seen + replayed + live
        assert [(e.name, e.data.get("node_id")) for e in received] == EVERY_EVENT
        ids = [_order(e.id) for e in received]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
        assert replayed[0].name == "node.completed" and replayed[0].data["node_id"] == "slow"
        assert target.calls == {"slow": 1, "last": 1}
        assert received[-1].data["status"] == "completed"

        # Reconnecting after the end: nothing more to send, and EventSource stops on 204.
        after_end = await gateway.client.get(
            _events_path(execution_id), headers={**gateway.auth, "Last-Event-ID": live[-1].id or ""}
        )
        assert after_end.status == 204
        # A new client of a finished run gets the whole story, then the stream ends.
        replay = await gateway.client.get(_events_path(execution_id), headers=gateway.auth)
        everything = [e async for e in read_events(replay)]
        assert [(e.name, e.data.get("node_id")) for e in everything] == EVERY_EVENT
        assert [e.id for e in everything] == [e.id for e in received]


async def test_steps_lists_each_node_attempt_in_the_order_it_ran(settings: Settings) -> None:
    async with (
        gates() as target,
        open_resources(settings) as resources,
        running_gateway(resources) as gateway,
    ):
        workflow = await gateway.create_workflow(five_nodes(target.url))
        execution_id = (await gateway.start(workflow["id"], {}))["execution_id"]
        executor = ExecutorWorker(resources)
        await executor.start()
        try:
            body = await eventually(
                lambda: _steps(gateway, execution_id), lambda b: b["status"] == "completed"
            )
        finally:
            await executor.stop()
    assert [s["node_id"] for s in body["items"]] == NODES
    assert all(s["status"] == "completed" and s["attempt"] == 1 for s in body["items"])
    assert [s["id"] for s in body["items"]] == sorted(s["id"] for s in body["items"])
    assert body["items"][2]["node_type"] == "webhook"


async def test_a_waiting_node_is_streamed_with_its_wait_and_an_unknown_execution_is_a_404(
    pg_settings: Settings,
) -> None:
    definition = PAUSING
    async with open_resources(pg_settings) as resources, running_gateway(resources) as gateway:
        workflow = await gateway.create_workflow(definition)
        execution_id = (await gateway.start(workflow["id"], {}))["execution_id"]
        executor = ExecutorWorker(resources)
        await executor.start()
        try:
            stream = await gateway.client.get(_events_path(execution_id), headers=gateway.auth)
            events = await take_until(read_events(stream), "node.waiting")
            stream.close()
        finally:
            await executor.stop()
        missing = await gateway.client.get(
            _events_path("00000000-0000-0000-0000-000000000000"), headers=gateway.auth
        )
        unauthorized = await gateway.client.get(_events_path(execution_id))
    waiting = events[-1].data
    assert (waiting["node_id"], waiting["wait"]["kind"], waiting["wait"]["status"]) == (
        "nap",
        "timer",
        "open",
    )
    assert waiting["wait"]["expires_at"]
    assert missing.status == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert unauthorized.status == 401


async def test_a_stream_of_a_waiting_run_ends_after_its_time_and_a_reconnect_repeats_nothing(
    settings: Settings,
) -> None:
    definition = PAUSING
    bounded = settings.model_copy(update={"event_stream_max_seconds": 0.5})
    async with open_resources(bounded) as resources, running_gateway(resources) as gateway:
        workflow = await gateway.create_workflow(definition)
        execution_id = (await gateway.start(workflow["id"], {}))["execution_id"]
        async with _executor(resources):
            stream = await gateway.client.get(_events_path(execution_id), headers=gateway.auth)
            first = await take_until(read_events(stream), "node.waiting")
            # Ends by itself, although the run still waits.
            await asyncio.wait_for(stream.read(), 5)
            again = await gateway.client.get(
                _events_path(execution_id),
                headers={**gateway.auth, "Last-Event-ID": first[-1].id or ""},
            )
            assert again.status == 200
            rest = await asyncio.wait_for(again.text(), 5)
    assert [e.name for e in first] == [
        "node.started",
        "node.completed",
        "node.started",
        "node.waiting",
    ]
    assert "event:" not in rest


async def test_every_event_of_a_stream_is_one_the_document_describes(settings: Settings) -> None:
    """Found by the fuzzer: the stream was documented as one string, and an event (its
    `event`, `id` and `data` fields, as the document's schema describes each one) is not."""
    async with open_resources(settings) as resources, running_gateway(resources) as gateway:
        document = await served_document(gateway)
        content = answer_content(document, "streamExecutionEvents", 200)
        workflow = await gateway.create_workflow()
        execution_id = (await gateway.start(workflow["id"]))["execution_id"]
        async with _executor(resources):
            stream = await gateway.client.get(_events_path(execution_id), headers=gateway.auth)
            events = await take_until(read_events(stream), "execution.completed")
    assert [e.name for e in events][-1] == "execution.completed"
    schema = content["text/event-stream"]["schema"]
    for event in events:
        sent = {"event": event.name, "id": event.id, "data": json.dumps(event.data)}
        assert violations(document, schema, sent) == [], sent


@contextlib.asynccontextmanager
async def _executor(resources: Resources) -> AsyncIterator[None]:
    executor = ExecutorWorker(resources)
    await executor.start()
    try:
        yield
    finally:
        await executor.stop()


def _order(event_id: str | None) -> tuple[int, int]:
    assert event_id is not None
    row, phase = event_id.split(".")
    return int(row), int(phase)


async def _steps(gateway: Gateway, execution_id: str) -> dict[str, Any]:
    response = await gateway.client.get(
        f"/api/v1/executions/{execution_id}/steps", headers=gateway.auth
    )
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body

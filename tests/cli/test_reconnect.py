"""`--watch` survives a dropped stream: it reconnects with Last-Event-ID and prints each step
once."""

import json

import aiohttp
from aiohttp import web

from services.client.api import Api
from services.client.settings import ClientSettings
from services.client.watch import watch
from tests.observability.support import free_port

EVENTS = [
    ("1.0", "node.started", {"node_id": "a", "node_type": "set", "attempt": 1}),
    ("1.2", "node.completed", {"node_id": "a", "duration_ms": 3, "attempt": 1}),
    ("2.0", "node.started", {"node_id": "b", "node_type": "set", "attempt": 1}),
    ("2.2", "node.completed", {"node_id": "b", "duration_ms": 4, "attempt": 1}),
    ("2.3", "execution.completed", {"status": "completed", "execution_time_ms": 9}),
]


async def test_a_dropped_stream_is_resumed_after_the_last_event_seen() -> None:
    asked_after: list[str | None] = []

    async def events(request: web.Request) -> web.StreamResponse:
        last = request.headers.get("Last-Event-ID")
        asked_after.append(last)
        start = 0 if last is None else [e[0] for e in EVENTS].index(last) + 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        # The first connection breaks after two events, mid-run.
        end = 2 if last is None else len(EVENTS)
        for event_id, name, data in EVENTS[start:end]:
            frame = f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
            await response.write(frame.encode())
        if last is None:
            assert request.transport is not None
            request.transport.close()
        return response

    app = web.Application()
    app.router.add_get("/api/v1/executions/{execution_id}/events", events)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    shown: list[str] = []
    try:
        async with aiohttp.ClientSession() as session:
            api = Api(ClientSettings(url=f"http://127.0.0.1:{port}", api_key="k"), session)
            code = await watch(api, "e1", shown.append)
    finally:
        await runner.cleanup()

    assert code == 0
    assert asked_after == [None, "1.2"]
    assert shown == [
        "  a (set) started",
        "  a completed in 3 ms",
        "  b (set) started",
        "  b completed in 4 ms",
        "execution completed in 9 ms",
    ]

"""An execution's steps, as JSON and as a live Server-Sent Events stream.

The stream sends the steps so far, then follows the execution: each event on the
`execution.events` exchange for it wakes the stream, which reads what changed from the steps
table and sends it (see progress.py for the ids). It ends after the execution's final event;
a client reconnecting after that gets 204, which tells an EventSource to stop.
"""

import asyncio
import json

from aiohttp import web

from services.gateway.common.bodies import path_id
from services.gateway.executions.progress import (
    ProgressEvent,
    events_after,
    parse_cursor,
    read_progress,
    step_view,
)
from services.gateway.keys import EVENT_HUB, RESOURCES, workspace_of

#: Re-read the steps this often even without an event: events are best effort.
POLL_SECONDS = 2.0
#: Tells EventSource clients how soon to reconnect (ms).
RETRY_MS = 1000


async def steps(request: web.Request) -> web.Response:
    execution_id = path_id(request, "execution_id", "execution")
    progress = await read_progress(
        request.app[RESOURCES].sessions, workspace_of(request), execution_id
    )
    return web.json_response(
        {
            "execution_id": str(execution_id),
            "status": progress.execution.status,
            "items": [step_view(step) for step in progress.steps],
        }
    )


async def events(request: web.Request) -> web.StreamResponse:
    execution_id = path_id(request, "execution_id", "execution")
    cursor = parse_cursor(
        request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    )
    sessions = request.app[RESOURCES].sessions
    workspace_id = workspace_of(request)
    hub = request.app[EVENT_HUB]
    async with hub.watch(execution_id) as wake:
        progress = await read_progress(sessions, workspace_id, execution_id)
        pending = events_after(progress, cursor)
        if progress.finished and not pending:
            return web.Response(status=204)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        loop = asyncio.get_running_loop()
        # A run may wait for days: its listener reconnects (Last-Event-ID) now and then
        # instead of holding one connection for as long.
        ends_at = loop.time() + request.app[RESOURCES].settings.event_stream_max_seconds
        while True:
            for event in pending:
                await response.write(_frame(event))
                cursor = event.cursor
            left = ends_at - loop.time()
            if progress.finished or hub.closing.is_set() or left <= 0:
                break
            try:
                await asyncio.wait_for(wake.wait(), min(POLL_SECONDS, left))
            except TimeoutError:
                # A comment line: keeps proxies from closing an idle stream.
                await response.write(b": keep-alive\n\n")
            # Cleared before the read, so a change committed during the read wakes us again.
            wake.clear()
            progress = await read_progress(sessions, workspace_id, execution_id)
            pending = events_after(progress, cursor)
        await response.write_eof()
        return response


def _frame(event: ProgressEvent) -> bytes:
    data = json.dumps({"event": event.name, **event.data}, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n".encode()

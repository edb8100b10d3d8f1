"""`docflow run --watch`: follow an execution's live events until it ends.

The stream is resumed with Last-Event-ID whenever the connection drops, so no step is lost
or printed twice. The exit code says how the execution ended: 0 completed, 1 otherwise.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from services.client.api import Api, ApiError
from services.client.sse import ServerEvent, read_events
from services.client.whom import waiting_on

#: Exit codes by final event.
FINAL = {"execution.completed": 0, "execution.failed": 1, "execution.cancelled": 1}
RECONNECTS = 5
RECONNECT_PAUSE_SECONDS = 1.0

Print = Callable[[str], None]


async def watch(api: Api, execution_id: str, say: Print) -> int:
    last_id: str | None = None
    failures = 0
    #: When each node was seen to start waiting: its wait, not its resume, is its time.
    waiting: dict[str, float] = {}
    while True:
        try:
            async with api.stream(f"/executions/{execution_id}/events", last_id) as response:
                if response.status == 204:
                    return await _ended(api, execution_id, say)
                async for event in read_events(response):
                    failures = 0
                    last_id = event.id or last_id
                    await _show(api, event, say, waiting)
                    if event.name in FINAL:
                        return FINAL[event.name]
        except ApiError as e:
            # An answer from the API is final; only an unreachable gateway is worth retrying.
            failures += 1
            if failures > RECONNECTS or not e.unreachable:
                raise
        except (aiohttp.ClientError, ConnectionError) as e:
            failures += 1
            if failures > RECONNECTS:
                raise ApiError(f"the event stream keeps breaking: {e!r}") from e
        # The stream dropped before the end: pick up after the last event seen.
        await asyncio.sleep(RECONNECT_PAUSE_SECONDS)


async def _ended(api: Api, execution_id: str, say: Print) -> int:
    execution = await api.request("GET", f"/executions/{execution_id}")
    name = f"execution.{execution['status']}"
    await _show(api, ServerEvent(None, name, execution), say, {})
    return FINAL.get(name, 1)


async def _show(api: Api, event: ServerEvent, say: Print, waiting: dict[str, float]) -> None:
    data = event.data
    node = data.get("node_id", "")
    attempt = data.get("attempt") or 1
    again = f" (attempt {attempt})" if attempt > 1 else ""
    name = event.name
    if name == "node.started":
        say(f"  {node} ({data.get('node_type')}) started{again}")
    elif name == "node.completed" and node in waiting:
        waited = round((time.monotonic() - waiting.pop(node)) * 1000)
        say(f"  {node} completed after waiting {_ms(waited)}{again}")
    elif name == "node.completed":
        say(f"  {node} completed in {_ms(data.get('duration_ms'))}{again}")
    elif name == "node.failed":
        say(f"  {node} failed{again}: {data.get('error')}")
    elif name == "node.skipped":
        condition = data.get("condition") or {}
        say(f"  {node} skipped: {condition.get('when')} was {condition.get('value')!r}")
    elif name == "node.waiting":
        waiting.setdefault(node, time.monotonic())
        say(f"  {node} waiting on {await waiting_on(api, data)}")
    elif name in ("node.interrupted", "node.cancelled"):
        say(f"  {node} {name.split('.')[1]}{again}: {data.get('error')}")
    elif name == "execution.completed":
        say(f"execution completed in {_ms(data.get('execution_time_ms'))}")
    elif name in ("execution.failed", "execution.cancelled"):
        say(f"execution {name.split('.')[1]}: {data.get('error')}")


def _ms(value: Any) -> str:
    if value is None:
        return "?"
    return f"{value} ms" if value < 1000 else f"{value / 1000:.1f} s"

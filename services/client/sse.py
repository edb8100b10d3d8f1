"""Reading a text/event-stream: one ServerEvent per blank-line-terminated block."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class ServerEvent:
    id: str | None
    name: str
    data: dict[str, Any]


async def read_events(response: aiohttp.ClientResponse) -> AsyncIterator[ServerEvent]:
    event_id: str | None = None
    name = "message"
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield ServerEvent(event_id, name, json.loads("\n".join(data)))
            event_id, name, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)

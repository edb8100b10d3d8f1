"""The gateway's HTTP API, as much of it as the benchmark uses."""

import uuid
from typing import Any

import aiohttp

from shared.api_keys import create_api_key
from shared.runtime import open_resources
from shared.settings import Settings


class ApiError(RuntimeError):
    pass


async def new_api_key(settings: Settings, workspace: str = "bench") -> str:
    async with open_resources(settings, pool_size=1, start_broker=False) as resources:
        _, key = await create_api_key(resources.sessions, workspace)
    return key


def chain_of_set_nodes(count: int) -> dict[str, Any]:
    """`n0` sets i = 0 and each next node adds one to its predecessor's i."""
    nodes = [
        {
            "id": f"n{k}",
            "type": "set",
            "position": k,
            "config": {"values": {"i": 0 if k == 0 else f"{{{{ nodes.n{k - 1}.i + 1 }}}}"}},
        }
        for k in range(count)
    ]
    return {"name": f"bench-chain-{count}", "nodes": nodes}


class Api:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, key: str) -> None:
        self._http = http
        self._base = f"{base_url}/api/v1"
        self._headers = {"Authorization": f"Bearer {key}"}

    async def create_workflow(self, definition: dict[str, Any]) -> str:
        body = await self._post("/workflows", definition, expect=201)
        return str(body["id"])

    async def start_execution(self, workflow_id: str, trigger_data: dict[str, Any]) -> uuid.UUID:
        body = await self._post(
            f"/workflows/{workflow_id}/executions", {"trigger_data": trigger_data}, expect=202
        )
        return uuid.UUID(body["execution_id"])

    async def _post(self, path: str, payload: dict[str, Any], *, expect: int) -> dict[str, Any]:
        async with self._http.post(
            self._base + path, json=payload, headers=self._headers
        ) as response:
            if response.status != expect:
                raise ApiError(f"POST {path}: {response.status} {await response.text()}")
            body: dict[str, Any] = await response.json()
            return body

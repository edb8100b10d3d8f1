"""The gateway's HTTP API, as much of it as the benchmark uses."""

import asyncio
import uuid
from typing import Any

import aiohttp

from shared.api_keys import create_api_key
from shared.runtime import open_resources
from shared.settings import Settings


class ApiError(RuntimeError):
    pass


class Overloaded(ApiError):
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
        #: Requests answered 503 (load shed) and asked again.
        self.refused = 0

    async def create_workflow(self, definition: dict[str, Any]) -> str:
        body = await self._post("/workflows", definition, expect=201)
        return str(body["id"])

    async def start_execution(self, workflow_id: str, trigger_data: dict[str, Any]) -> uuid.UUID:
        body = await self._post(
            f"/workflows/{workflow_id}/executions", {"trigger_data": trigger_data}, expect=202
        )
        return uuid.UUID(body["execution_id"])

    async def start_execution_retried(
        self, workflow_id: str, trigger_data: dict[str, Any], *, tries: int = 20
    ) -> uuid.UUID:
        """As a client that wants its run: a `503` (the gateway shedding load when the
        database falls behind) is asked again after a pause, under one Idempotency-Key so a
        request that did commit is not started twice."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        path = f"/workflows/{workflow_id}/executions"
        for _ in range(tries - 1):
            try:
                body = await self._post(
                    path, {"trigger_data": trigger_data}, expect=202, headers=headers
                )
            except Overloaded:
                self.refused += 1
                await asyncio.sleep(1.0)
                continue
            return uuid.UUID(body["execution_id"])
        body = await self._post(path, {"trigger_data": trigger_data}, expect=202, headers=headers)
        return uuid.UUID(body["execution_id"])

    async def _post(
        self,
        path: str,
        payload: dict[str, Any],
        *,
        expect: int,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        async with self._http.post(
            self._base + path, json=payload, headers={**self._headers, **(headers or {})}
        ) as response:
            if response.status == 503:
                raise Overloaded(f"POST {path}: 503 {await response.text()}")
            if response.status != expect:
                raise ApiError(f"POST {path}: {response.status} {await response.text()}")
            body: dict[str, Any] = await response.json()
            return body

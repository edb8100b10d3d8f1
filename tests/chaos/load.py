"""The client side: runs POSTed to the gateway at a steady rate, each one recorded."""

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from shared.api_keys import create_api_key
from shared.runtime import open_resources
from shared.settings import Settings
from tests.chaos.history import Answer, History, Outcome, finish

#: A POST without an answer after this long is recorded as unknown (the gateway hung).
ANSWER_TIMEOUT_SECONDS = 10.0
#: A client stops trying a request again after this long.
GIVE_UP_AFTER_SECONDS = 90.0
#: The longest a client waits between two attempts.
MAX_BACKOFF_SECONDS = 8.0


async def new_api_key(settings: Settings) -> tuple[uuid.UUID, str]:
    """A new workspace and a key for it."""
    async with open_resources(settings, pool_size=1, start_broker=False) as resources:
        return await create_api_key(resources.sessions, f"chaos-{uuid.uuid4().hex[:8]}")


class Client:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, key: str) -> None:
        self._http = http
        self._api = f"{base_url}/api/v1"
        self._auth = {"Authorization": f"Bearer {key}"}

    async def create_workflow(self, definition: dict[str, Any]) -> str:
        async with self._http.post(
            f"{self._api}/workflows", json=definition, headers=self._auth
        ) as response:
            body = await response.json()
            assert response.status == 201, body
            return str(body["id"])

    async def start_run(
        self, history: History, workflow_id: str, key: str, trigger_data: dict[str, Any]
    ) -> None:
        """POST one run and record every answer. `202` is ok; a `4xx` is a refusal; a `503` is
        tried again after its `Retry-After` (or longer, backing off), with the same key, until
        `GIVE_UP_AFTER_SECONDS`;
        anything else (a `500`, no answer) is tried again the same way and stays unknown if
        it never turns into an answer."""
        operation = history.invoke(key)
        while True:
            answer = await self._attempt(workflow_id, key, trigger_data)
            operation.answers.append(answer)
            if answer.status == 202:
                finish(operation, Outcome.OK, uuid.UUID(answer.detail))
                return
            if answer.status is not None and 400 <= answer.status < 500:
                finish(operation, Outcome.FAILED)
                return
            if time.time() - operation.invoked_at > GIVE_UP_AFTER_SECONDS:
                refused = answer.status == 503
                finish(operation, Outcome.FAILED if refused else Outcome.UNKNOWN)
                return
            # A client honouring Retry-After and backing off: waiting is the protocol here,
            # not a condition. Without the back-off and the jitter, a long outage turns the
            # clients into a storm of synchronised retries that measures the load generator.
            attempt = len(operation.answers)
            backoff = min(MAX_BACKOFF_SECONDS, 2.0 ** (attempt - 1))
            await asyncio.sleep(
                max(float(answer.retry_after or 1), backoff) * random.uniform(1.0, 1.5)
            )

    async def _attempt(self, workflow_id: str, key: str, trigger_data: dict[str, Any]) -> Answer:
        """One POST; a `202`'s detail is the execution id."""
        sent_at = time.time()
        try:
            async with self._http.post(
                f"{self._api}/workflows/{workflow_id}/executions",
                json={"trigger_data": trigger_data},
                headers={**self._auth, "Idempotency-Key": key},
                timeout=aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_SECONDS),
            ) as response:
                body = await response.read()
                detail = (
                    str((await response.json())["execution_id"])
                    if response.status == 202
                    else body[:200].decode(errors="replace")
                )
                return Answer(
                    sent_at,
                    time.time() - sent_at,
                    response.status,
                    response.headers.get("Retry-After"),
                    detail,
                )
        except (aiohttp.ClientError, TimeoutError) as e:
            return Answer(sent_at, time.time() - sent_at, None, detail=repr(e))


async def post_runs(
    client: Client,
    history: History,
    workflow_id: str,
    *,
    count: int,
    per_second: float,
    trigger: Callable[[int], dict[str, Any]] = lambda i: {"n": i},
    on_each: Callable[[int], None] | None = None,
) -> None:
    """Start `count` runs, one every 1/per_second seconds by the clock (a slow answer does not
    slow the rate), and return once every POST has its answer."""
    prefix = uuid.uuid4().hex[:8]
    started = time.monotonic()
    posts: set[asyncio.Task[None]] = set()
    for i in range(count):
        # Pacing the load generator by the clock is the point here, not waiting for a state.
        await asyncio.sleep(max(0.0, started + i / per_second - time.monotonic()))
        if on_each is not None:
            on_each(i)
        posts.add(
            asyncio.create_task(client.start_run(history, workflow_id, f"{prefix}-{i}", trigger(i)))
        )
    await asyncio.gather(*posts)

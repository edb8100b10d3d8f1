"""Standard Webhooks into a workflow: a sealed per-workflow secret, signed calls, one run per
webhook-id, and the body as the run's source."""

import asyncio
import json
import time
import uuid
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import select

from services.executor.worker import ExecutorWorker
from shared.db.tables import WebhookSecret
from shared.runtime import Resources
from shared.standard_webhooks import sign
from tests.gateway.conftest import Gateway
from tests.support import wait_for_status
from tests.triggers.conftest import PUBLIC_URL, trigger_gateway
from tests.triggers.support import execution_count, runs_of

HOOK_WORKFLOW: dict[str, Any] = {
    "name": "form to greeting",
    "nodes": [
        {"id": "start", "type": "trigger", "position": 0, "config": {"source": "webhook"}},
        {"id": "greet", "type": "set", "position": 1,
         "config": {"values": {"text": "Hello {{ source.customer.name }}"}}},
    ],
}  # fmt: skip


async def new_secret(gateway: Gateway, workflow_id: str) -> dict[str, Any]:
    response = await gateway.client.post(
        f"/api/v1/workflows/{workflow_id}/hook-secret", headers=gateway.auth
    )
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def call_hook(
    gateway: Gateway,
    workflow_id: str,
    payload: Any,
    secret: str,
    *,
    hook_id: str | None = None,
    timestamp: int | None = None,
) -> ClientResponse:
    body = json.dumps(payload).encode()
    hook_id = hook_id or f"msg_{uuid.uuid4().hex}"
    at = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "webhook-id": hook_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign(secret, hook_id, at, body),
    }
    return await gateway.client.post(f"/api/v1/hooks/{workflow_id}", data=body, headers=headers)


async def test_a_created_secret_is_shown_once_and_stored_sealed(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources) as gateway:
        workflow = await gateway.create_workflow(HOOK_WORKFLOW)
        created = await new_secret(gateway, workflow["id"])
        shown = await gateway.client.get(
            f"/api/v1/workflows/{workflow['id']}/hook-secret", headers=gateway.auth
        )
        view = await shown.json()
        other = await gateway.as_workspace("globex")
        foreign = await other.client.post(
            f"/api/v1/workflows/{workflow['id']}/hook-secret", headers=other.auth
        )

    assert created["secret"].startswith("whsec_")
    assert created["url"] == f"{PUBLIC_URL}/api/v1/hooks/{workflow['id']}"
    assert shown.status == 200 and "secret" not in view
    assert view["url"] == created["url"]
    assert foreign.status == 404
    async with trigger_resources.sessions() as session:
        [row] = (await session.scalars(select(WebhookSecret))).all()
    secret_body = created["secret"].removeprefix("whsec_")
    assert secret_body not in row.sealed and created["secret"] not in row.sealed


async def test_a_signed_call_starts_one_run_with_its_body_as_the_source_even_when_repeated(
    both_resources: Resources,
) -> None:
    trigger_resources = both_resources
    async with trigger_gateway(trigger_resources) as gateway:
        workflow = await gateway.create_workflow(HOOK_WORKFLOW)
        secret = (await new_secret(gateway, workflow["id"]))["secret"]
        payload = {"customer": {"name": "Ada"}}

        first = await call_hook(gateway, workflow["id"], payload, secret, hook_id="msg_1")
        accepted = await first.json()
        repeats = await asyncio.gather(
            *(
                call_hook(gateway, workflow["id"], payload, secret, hook_id="msg_1")
                for _ in range(4)
            )
        )
        answers = [await r.json() for r in repeats]

        executor = ExecutorWorker(trigger_resources)
        await executor.start()
        try:
            done = await wait_for_status(
                trigger_resources, uuid.UUID(accepted["execution_id"]), "completed", "failed"
            )
        finally:
            await executor.stop()

    assert first.status == 202 and accepted["duplicate"] is False
    assert [r.status for r in repeats] == [200] * 4
    assert all(a == {"execution_id": accepted["execution_id"], "duplicate": True} for a in answers)
    assert len(await runs_of(trigger_resources, workflow["id"])) == 1
    assert done.status == "completed", done.error
    assert done.context["source_data"] == payload
    assert done.context["node_outputs"]["greet"] == {"text": "Hello Ada"}
    assert done.context["metadata"]["webhook"]["id"] == "msg_1"


async def test_forged_stale_or_unsigned_calls_get_401_and_start_nothing(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources) as gateway:
        workflow = await gateway.create_workflow(HOOK_WORKFLOW)
        secret = (await new_secret(gateway, workflow["id"]))["secret"]
        wid = workflow["id"]
        forged = await call_hook(gateway, wid, {}, "whsec_" + "A" * 43 + "=")
        stale = await call_hook(gateway, wid, {}, secret, timestamp=int(time.time()) - 301)
        future = await call_hook(gateway, wid, {}, secret, timestamp=int(time.time()) + 301)
        unsigned = await gateway.client.post(f"/api/v1/hooks/{wid}", json={})
        garbled = await gateway.client.post(
            f"/api/v1/hooks/{wid}",
            json={},
            headers={"webhook-id": "x", "webhook-timestamp": str(int(time.time())),
                     "webhook-signature": "v1"},
        )  # fmt: skip
        statuses = [r.status for r in (forged, stale, future, unsigned, garbled)]

    assert statuses == [401] * 5
    assert await execution_count(trigger_resources) == 0


async def test_after_a_rotation_both_secrets_work_for_a_while_and_a_deleted_hook_is_gone(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources) as gateway:
        workflow = await gateway.create_workflow(HOOK_WORKFLOW)
        old = (await new_secret(gateway, workflow["id"]))["secret"]
        rotated = await new_secret(gateway, workflow["id"])
        with_old = await call_hook(gateway, workflow["id"], {}, old)
        with_new = await call_hook(gateway, workflow["id"], {}, rotated["secret"])
        deleted = await gateway.client.delete(
            f"/api/v1/workflows/{workflow['id']}/hook-secret", headers=gateway.auth
        )
        after = await call_hook(gateway, workflow["id"], {}, rotated["secret"])

    assert rotated["secret"] != old and rotated["rotated_at"] is not None
    assert rotated["previous_valid_until"] is not None
    assert (with_old.status, with_new.status) == (202, 202)
    assert deleted.status == 204
    assert after.status == 404


async def test_a_workflow_not_triggered_by_webhooks_refuses_a_signed_call(
    trigger_resources: Resources,
) -> None:
    async with trigger_gateway(trigger_resources) as gateway:
        workflow = await gateway.create_workflow()
        secret = (await new_secret(gateway, workflow["id"]))["secret"]
        response = await call_hook(gateway, workflow["id"], {"name": "Ada"}, secret)
        problem = await response.json()

    assert response.status == 409
    assert "'api'" in problem["detail"]
    assert await execution_count(trigger_resources) == 0

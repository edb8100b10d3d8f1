"""A webhook node's secret is write-only: stored sealed, shown as {"set": true}, kept by a PUT
that sends the marker back, opened only by the executor that signs with it; versions saved in
plain text before keep running and are sealed by `docflow migrate`."""

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from services.executor.worker import ExecutorWorker
from shared.config_secrets import SEALED_PREFIX
from shared.connections.crypto import Sealer, new_secret_key
from shared.db.seal_secrets import seal_plain_secrets
from shared.db.tables import Workflow, WorkflowVersion
from shared.nodes.registry import build_config_registry
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway
from tests.support import Receiver, seed_workflow, wait_for_status

SECRET = "s3cret-value-never-shown"


@pytest.fixture
async def keyed(settings: Settings) -> AsyncIterator[tuple[Gateway, Resources]]:
    sealed_settings = settings.model_copy(update={"secret_key": new_secret_key()})
    async with open_resources(sealed_settings) as resources:
        worker = ExecutorWorker(resources)
        await worker.start()
        try:
            async with running_gateway(resources) as gateway:
                yield gateway, resources
        finally:
            await worker.stop()


def signed_call(url: str, secret: Any) -> dict[str, Any]:
    return {
        "name": "signed",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {
                "id": "call",
                "type": "webhook",
                "position": 1,
                "config": {"url": url, "body": {"deal": 1}, "secret": secret},
            },
        ],
    }


async def _stored(resources: Resources, workflow_id: str, version: int) -> dict[str, Any]:
    async with resources.sessions() as session:
        definition = await session.scalar(
            select(WorkflowVersion.definition).where(
                WorkflowVersion.workflow_id == uuid.UUID(workflow_id),
                WorkflowVersion.version == version,
            )
        )
    assert isinstance(definition, dict)
    return definition


async def _run_and_check_signature(
    gateway: Gateway, resources: Resources, workflow_id: str, receiver: Receiver
) -> None:
    started = await gateway.start(workflow_id, {"trigger_data": {}})
    import uuid

    done = await wait_for_status(
        resources, uuid.UUID(started["execution_id"]), "completed", "failed"
    )
    assert done.status == "completed", done.error
    call = receiver.calls[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), call["body"], hashlib.sha256).hexdigest()
    assert call["headers"]["X-DocFlow-Signature"] == expected


async def test_a_secret_is_stored_sealed_shown_as_set_and_still_signs(
    keyed: tuple[Gateway, Resources], receiver: Receiver
) -> None:
    gateway, resources = keyed
    created = await gateway.client.post(
        "/api/v1/workflows", json=signed_call(receiver.url, SECRET), headers=gateway.auth
    )
    assert created.status == 201, await created.text()
    workflow = await created.json()
    read = await (
        await gateway.client.get(f"/api/v1/workflows/{workflow['id']}", headers=gateway.auth)
    ).json()

    for shown in (workflow, read):
        assert SECRET not in json.dumps(shown)
        assert shown["definition"]["nodes"][1]["config"]["secret"] == {"set": True}
    stored = await _stored(resources, workflow["id"], 1)
    assert SECRET not in json.dumps(stored)
    assert stored["nodes"][1]["config"]["secret"].startswith(SEALED_PREFIX)
    await _run_and_check_signature(gateway, resources, workflow["id"], receiver)


async def test_a_put_that_sends_the_marker_back_keeps_the_secret(
    keyed: tuple[Gateway, Resources], receiver: Receiver
) -> None:
    gateway, resources = keyed
    workflow = await (
        await gateway.client.post(
            "/api/v1/workflows", json=signed_call(receiver.url, SECRET), headers=gateway.auth
        )
    ).json()
    again = workflow["definition"]  # as read: the secret is {"set": true}
    again["nodes"][1]["config"]["headers"] = {"X-Changed": "yes"}

    replaced = await gateway.client.put(
        f"/api/v1/workflows/{workflow['id']}", json=again, headers=gateway.auth
    )

    assert replaced.status == 200, await replaced.text()
    assert (await replaced.json())["version"] == 2
    await _run_and_check_signature(gateway, resources, workflow["id"], receiver)


async def test_keeping_a_secret_that_was_never_saved_or_sending_a_sealed_one_is_422(
    keyed: tuple[Gateway, Resources], receiver: Receiver
) -> None:
    gateway, _ = keyed
    unsaved = await gateway.client.post(
        "/api/v1/workflows", json=signed_call(receiver.url, {"set": True}), headers=gateway.auth
    )
    forged = await gateway.client.post(
        "/api/v1/workflows",
        json=signed_call(receiver.url, SEALED_PREFIX + "gAAAA"),
        headers=gateway.auth,
    )
    for refused in (unsaved, forged):
        assert refused.status == 422, await refused.text()
        assert (await refused.json())["field"] == "nodes[1].config.secret"


async def test_without_a_secret_key_a_secret_is_not_stored_at_all(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/api/v1/workflows", json=signed_call("https://example.com/x", SECRET), headers=gateway.auth
    )
    assert response.status == 503
    assert "DOCFLOW_SECRET_KEY" in (await response.json())["detail"]


async def test_a_version_saved_in_plain_text_runs_is_shown_redacted_and_gets_sealed(
    keyed: tuple[Gateway, Resources], receiver: Receiver
) -> None:
    gateway, resources = keyed
    # Saved before secrets were sealed: straight into the table, in plain text.
    _, workflow_id = await seed_workflow(resources, signed_call(receiver.url, SECRET))
    async with resources.sessions.begin() as session:
        row = await session.get(Workflow, workflow_id)
        assert row is not None
        row.workspace_id = gateway.workspace_id

    shown = await (
        await gateway.client.get(f"/api/v1/workflows/{workflow_id}", headers=gateway.auth)
    ).json()
    assert shown["definition"]["nodes"][1]["config"]["secret"] == {"set": True}
    await _run_and_check_signature(gateway, resources, str(workflow_id), receiver)

    sealer = Sealer(resources.settings.secret_key)
    assert await seal_plain_secrets(resources.sessions, build_config_registry(), sealer) == 1
    assert await seal_plain_secrets(resources.sessions, build_config_registry(), sealer) == 0
    stored = await _stored(resources, str(workflow_id), 1)
    assert stored["nodes"][1]["config"]["secret"].startswith(SEALED_PREFIX)


async def test_a_put_of_the_same_definition_and_secret_saves_no_version_a_new_secret_does(
    keyed: tuple[Gateway, Resources], receiver: Receiver
) -> None:
    gateway, _ = keyed
    body = signed_call(receiver.url, SECRET)
    workflow = await (
        await gateway.client.post("/api/v1/workflows", json=body, headers=gateway.auth)
    ).json()
    path = f"/api/v1/workflows/{workflow['id']}"

    # Sealed twice the same secret reads differently; opened, it is the same.
    same_secret = await (await gateway.client.put(path, json=body, headers=gateway.auth)).json()
    marker = await (
        await gateway.client.put(path, json=workflow["definition"], headers=gateway.auth)
    ).json()
    other = signed_call(receiver.url, SECRET + "-rotated")
    rotated = await (await gateway.client.put(path, json=other, headers=gateway.auth)).json()

    assert (same_secret["version"], same_secret["changed"]) == (1, False)
    assert (marker["version"], marker["changed"]) == (1, False)
    assert (rotated["version"], rotated["changed"]) == (2, True)


HEADER_SECRET = "Bearer header-token-never-shown"


def call_with_headers(url: str, authorization: Any) -> dict[str, Any]:
    config = {"url": url, "body": {}, "headers": {"Authorization": authorization, "X-Trace": "t1"}}
    return {
        "name": "with-headers",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {"id": "call", "type": "webhook", "position": 1, "config": config},
        ],
    }


async def _run_and_see_header(
    gateway: Gateway, resources: Resources, workflow_id: str, receiver: Receiver
) -> None:
    started = await gateway.start(workflow_id, {"trigger_data": {}})
    done = await wait_for_status(
        resources, uuid.UUID(started["execution_id"]), "completed", "failed"
    )
    assert done.status == "completed", done.error
    assert receiver.calls[-1]["headers"]["Authorization"] == HEADER_SECRET


async def test_a_header_that_holds_a_secret_is_sealed_shown_as_set_and_kept_by_the_marker(
    keyed: tuple[Gateway, Resources], receiver: Receiver
) -> None:
    gateway, resources = keyed
    created = await gateway.client.post(
        "/api/v1/workflows", json=call_with_headers(receiver.url, HEADER_SECRET),
        headers=gateway.auth,
    )  # fmt: skip
    assert created.status == 201, await created.text()
    workflow = await created.json()

    headers = workflow["definition"]["nodes"][1]["config"]["headers"]
    assert headers == {"Authorization": {"set": True}, "X-Trace": "t1"}
    stored = await _stored(resources, workflow["id"], 1)
    assert HEADER_SECRET not in json.dumps(stored)
    assert stored["nodes"][1]["config"]["headers"]["Authorization"].startswith(SEALED_PREFIX)
    assert stored["nodes"][1]["config"]["headers"]["X-Trace"] == "t1"
    await _run_and_see_header(gateway, resources, workflow["id"], receiver)

    again = workflow["definition"]  # as read: the header is {"set": true}
    again["nodes"][1]["config"]["body"] = {"changed": True}
    replaced = await gateway.client.put(
        f"/api/v1/workflows/{workflow['id']}", json=again, headers=gateway.auth
    )
    assert replaced.status == 200, await replaced.text()
    assert HEADER_SECRET not in json.dumps(await _stored(resources, workflow["id"], 2))
    await _run_and_see_header(gateway, resources, workflow["id"], receiver)

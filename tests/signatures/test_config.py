"""The `signature` node's config: refused at save time when wrong, rendered at run time."""

import uuid
from typing import Any

import pytest

from tests.signatures.harness import Stack, first_signer, signature_workflow
from tests.support import wait_for_status

A = {"name": "Ana", "email": "ana@example.com"}
B = {"name": "Bia", "email": "bia@example.com"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "docusign"}, "nodes[1].config.provider"),
        ({"rule": "quorum"}, "nodes[1].config"),
        ({"rule": "quorum", "required": 3}, "nodes[1].config"),
        ({"required": 1}, "nodes[1].config"),
        ({"signers": [{"name": "X", "email": "not-an-address"}]}, "nodes[1].config.signers"),
        ({"signers": [{**A, "auth": "sms"}]}, "nodes[1].config.signers"),
        ({"signers": "not a template"}, "nodes[1].config.signers"),
        ({"document": {"url": "ftp://files/x.pdf"}}, "nodes[1].config.document"),
        ({"document": {"node": "a", "url": "https://x/y.pdf"}}, "nodes[1].config.document"),
        ({"expires_in": "soon"}, "nodes[1].config.expires_in"),
        ({"expires_in": 60, "expires_at": "2030-01-01T00:00:00Z"}, "nodes[1].config"),
        ({"on_timeout": "approve"}, "nodes[1].config.on_timeout"),
        ({"webhook": "https://x"}, "nodes[1].config.webhook"),
    ],
)
async def test_a_wrong_signature_config_is_refused_when_saved_naming_the_field(
    ingest: Stack, change: dict[str, Any], field: str
) -> None:
    workflow = signature_workflow("clicksign", [A, B])
    workflow["nodes"][1]["config"].update(change)
    response = await ingest.gateway.client.post(
        "/api/v1/workflows", json=workflow, headers=ingest.gateway.auth
    )
    assert response.status == 422, await response.text()
    problem = await response.json()
    assert problem["field"].startswith(field), problem


async def test_signers_may_be_one_template_rendering_to_a_list_from_the_context(
    stack: Stack,
) -> None:
    workflow = signature_workflow("zapsign", "{{ source.signers }}")
    saved = await stack.gateway.create_workflow(workflow)
    signers = [first_signer("zapsign"), {"name": "{{ 'Bia' }}", "email": "bia@example.com"}]
    accepted = await stack.gateway.start(
        saved["id"], {"trigger_data": {"deal": "9", "signers": signers}}
    )
    request = await stack.paused(uuid.UUID(accepted["execution_id"]))
    assert [(s.name, s.email) for s in request.signers] == [
        ("Ana Pereira", first_signer("zapsign")["email"]),
        ("Bia", "bia@example.com"),
    ]


async def test_signers_that_render_to_something_else_fail_the_node_clearly(stack: Stack) -> None:
    workflow = signature_workflow("zapsign", "{{ source.signers }}")
    saved = await stack.gateway.create_workflow(workflow)
    accepted = await stack.gateway.start(
        saved["id"], {"trigger_data": {"deal": "9", "signers": "ana@example.com"}}
    )
    failed = await wait_for_status(
        stack.resources, uuid.UUID(accepted["execution_id"]), "failed", "paused"
    )
    assert failed.status == "failed"
    assert failed.error is not None and "'signers' must render to a non-empty list" in failed.error
    assert stack.zapsign.calls == []

"""What the providers receive: the documented request shapes, built from the node's config."""

import base64
import uuid
from typing import Any

from tests.signatures.fake_clicksign import JSON_API
from tests.signatures.fake_clicksign import TOKEN as CLICKSIGN_TOKEN
from tests.signatures.fake_server import signed_pdf
from tests.signatures.fake_zapsign import TOKEN as ZAPSIGN_TOKEN
from tests.signatures.harness import (
    CONTRACT,
    SECOND_SIGNER,
    Stack,
    first_signer,
    signature_workflow,
)

PHONE_SIGNER = {
    "name": "Davi Rocha",
    "email": "davi@example.com",
    "phone": "11988887777",
    "auth": "sms",
}


def _data(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict) and set(body) == {"data"}, body
    data: dict[str, Any] = body["data"]
    return data


async def test_clicksign_gets_an_envelope_a_base64_document_signers_requirements_then_running(
    stack: Stack,
) -> None:
    signers = [first_signer("clicksign"), PHONE_SIGNER]
    workflow = signature_workflow(
        "clicksign", signers, ordered=True, expires_in="7d", message="Please sign"
    )
    execution_id = await stack.run(workflow, deal="ACME-7")
    request = await stack.paused(execution_id)

    calls = stack.clicksign.calls
    for call in calls:
        assert call.headers["Authorization"] == CLICKSIGN_TOKEN
        if call.method in ("POST", "PATCH"):
            assert call.headers["Content-Type"] == JSON_API
    envelope_id = request.provider_request_id
    document_key = request.provider_document_id
    assert [(c.method, c.path) for c in calls] == [
        ("POST", "/api/v3/envelopes"),
        ("POST", f"/api/v3/envelopes/{envelope_id}/documents"),
        ("POST", f"/api/v3/envelopes/{envelope_id}/signers"),
        ("POST", f"/api/v3/envelopes/{envelope_id}/signers"),
        *[("POST", f"/api/v3/envelopes/{envelope_id}/requirements")] * 4,
        ("PATCH", f"/api/v3/envelopes/{envelope_id}"),
        ("POST", f"/api/v3/envelopes/{envelope_id}/notifications"),
    ]
    envelope = _data(calls[0].body)
    assert envelope["type"] == "envelopes"
    assert envelope["attributes"]["name"] == f"Contract ACME-7 [{execution_id}:sign]"
    assert request.expires_at is not None
    assert envelope["attributes"]["deadline_at"] == request.expires_at.isoformat()
    document = _data(calls[1].body)["attributes"]
    prefix, encoded = document["content_base64"].split(",", 1)
    assert prefix == "data:application/pdf;base64"
    assert base64.b64decode(encoded) == CONTRACT
    assert document["filename"] == "contract.pdf"
    first, second = (_data(c.body)["attributes"] for c in calls[2:4])
    assert (first["email"], first["group"], second["group"]) == (signers[0]["email"], 1, 2)
    assert second["phone_number"] == "11988887777"
    requirements = [_data(c.body) for c in calls[4:8]]
    signer_ids = [s.provider_signer_id for s in request.signers]
    assert [
        (r["attributes"], r["relationships"]["signer"]["data"]["id"]) for r in requirements
    ] == [
        ({"action": "agree", "role": "sign"}, signer_ids[0]),
        ({"action": "provide_evidence", "auth": "email"}, signer_ids[0]),
        ({"action": "agree", "role": "sign"}, signer_ids[1]),
        ({"action": "provide_evidence", "auth": "sms"}, signer_ids[1]),
    ]
    assert {r["relationships"]["document"]["data"]["id"] for r in requirements} == {document_key}
    assert _data(calls[8].body) == {
        "id": envelope_id,
        "type": "envelopes",
        "attributes": {"status": "running"},
    }
    assert _data(calls[9].body) == {
        "type": "notifications",
        "attributes": {"message": "Please sign"},
    }


async def test_zapsign_gets_one_document_with_base64_pdf_signers_and_the_idempotency_key(
    stack: Stack,
) -> None:
    signers = [first_signer("zapsign"), {**PHONE_SIGNER, "auth": "whatsapp"}]
    workflow = signature_workflow("zapsign", signers, ordered=True, expires_in=3600, locale="en")
    execution_id = await stack.run(workflow)
    request = await stack.paused(execution_id)

    [create] = stack.zapsign.calls
    assert (create.method, create.path) == ("POST", "/api/v1/docs/")
    assert create.headers["Authorization"] == f"Bearer {ZAPSIGN_TOKEN}"
    body = create.body
    assert base64.b64decode(body["base64_pdf"]) == CONTRACT
    assert body["name"] == "Contract 42"
    assert body["external_id"] == f"{execution_id}:sign"
    assert body["lang"] == "en"
    assert body["signature_order_active"] is True
    assert request.expires_at is not None
    assert body["date_limit_to_sign"] == request.expires_at.isoformat()
    assert [
        (s["name"], s["email"], s["auth_mode"], s.get("order_group"), s.get("phone_number"))
        for s in body["signers"]
    ] == [
        ("Ana Pereira", signers[0]["email"], "assinaturaTela-tokenEmail", 1, None),
        ("Davi Rocha", "davi@example.com", "assinaturaTela-tokenWhatsapp", 2, "11988887777"),
    ]
    assert body["signers"][1]["phone_country"] == "55"
    tokens = [s.provider_signer_id for s in request.signers]
    assert all(tokens) and len(set(tokens)) == 2


async def test_the_document_may_come_from_a_url_or_from_an_earlier_node(stack: Stack) -> None:
    source = f"{stack.zapsign.url}/files/source-contract/signed.pdf"
    by_url = signature_workflow("zapsign", [first_signer("zapsign")])
    by_url["nodes"][1]["config"]["document"] = {"url": "{{ source.document_url }}"}
    workflow = await stack.gateway.create_workflow(by_url)
    accepted = await stack.gateway.start(
        workflow["id"], {"trigger_data": {"deal": "1", "document_url": source}}
    )
    await stack.paused(uuid.UUID(accepted["execution_id"]))
    sent = stack.zapsign.calls_to("POST", "/api/v1/docs/")[-1].body
    assert base64.b64decode(sent["base64_pdf"]) == signed_pdf("source-contract")

    from_node = signature_workflow("clicksign", [SECOND_SIGNER])
    encoded = base64.b64encode(b"%PDF-1.4 made by an earlier node").decode()
    from_node["nodes"].insert(
        1,
        {
            "id": "draft",
            "type": "set",
            "position": 1,
            "config": {"values": {"content_base64": encoded, "filename": "draft.pdf"}},
        },
    )
    from_node["nodes"][2].update(position=2)
    from_node["nodes"][3].update(position=3)
    from_node["nodes"][2]["config"]["document"] = {"node": "draft"}
    execution_id = await stack.run(from_node)
    await stack.paused(execution_id)
    [added] = stack.clicksign.calls_to("POST", "/documents")
    attributes = _data(added.body)["attributes"]
    assert attributes["filename"] == "draft.pdf"
    assert base64.b64decode(attributes["content_base64"].split(",", 1)[1]).startswith(
        b"%PDF-1.4 made by an earlier node"
    )

"""A signed file is a document like any other: read, listed and downloaded by the id its run's
`generated_documents` gives, in its workspace only."""

import hashlib

from tests.signatures.harness import Stack, first_signer, signature_workflow
from tests.signatures.providers import CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL, raw
from tests.support import wait_for_status


async def test_the_signed_file_is_served_by_the_documents_api(stack: Stack) -> None:
    execution_id = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    await stack.paused(execution_id)
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    assert (await stack.post_clicksign(raw("clicksign_auto_close.json"), "auto_close")).ok
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    [entry] = [d for d in done.context["generated_documents"] if d["variant"] == "signed"]
    gateway = stack.gateway

    read = await gateway.client.get(f"/api/v1/documents/{entry['id']}", headers=gateway.auth)
    listed = await gateway.client.get(
        "/api/v1/documents", params={"execution_id": str(execution_id)}, headers=gateway.auth
    )
    content = await gateway.client.get(
        f"/api/v1/documents/{entry['id']}/content", headers=gateway.auth
    )

    assert read.status == 200, await read.text()
    view = await read.json()
    assert (view["execution_id"], view["node_id"]) == (str(execution_id), "sign")
    assert (view["variant"], view["status"], view["name"]) == ("signed", "ready", entry["name"])
    assert view["sha256"] == entry["sha256"] and view["size"] == entry["size"]
    assert view["provider_ids"]["clicksign"]["document_id"] == CLICKSIGN_DOCUMENT_KEY
    assert [d["id"] for d in (await listed.json())["items"]] == [entry["id"]]
    assert content.status == 200
    body = await content.read()
    assert hashlib.sha256(body).hexdigest() == entry["sha256"]
    assert content.headers["ETag"] == f'"{entry["sha256"]}"'
    other = await gateway.as_workspace("elsewhere")
    for path in (f"/api/v1/documents/{entry['id']}", f"/api/v1/documents/{entry['id']}/content"):
        assert (await other.client.get(path, headers=other.auth)).status == 404

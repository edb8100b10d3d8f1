"""`GET /api/v1/workspace` tells a user their workspace id and the URLs to configure."""

from tests.gateway.conftest import Gateway


async def test_the_workspace_names_its_id_and_the_urls_to_configure(gateway: Gateway) -> None:
    workflow = await gateway.create_workflow()
    base = gateway.resources.settings.public_url.rstrip("/")

    response = await gateway.client.get("/api/v1/workspace", headers=gateway.auth)

    assert response.status == 200
    body = await response.json()
    assert body["id"] == str(gateway.workspace_id) and body["name"] == "acme"
    urls = body["urls"]
    assert urls["api"] == f"{base}/api/v1"
    assert urls["hubspot_webhook"] == f"{base}/api/v1/webhooks/hubspot/{gateway.workspace_id}"
    assert urls["workflow_hooks"] == [
        {
            "workflow_id": workflow["id"],
            "workflow_name": "onboarding",
            "url": f"{base}/api/v1/hooks/{workflow['id']}",
        }
    ]
    assert urls["signature_webhooks"] == []


async def test_each_key_sees_only_its_own_workspace(gateway: Gateway) -> None:
    await gateway.create_workflow()
    other = await gateway.as_workspace("globex")

    body = await (await other.client.get("/api/v1/workspace", headers=other.auth)).json()

    assert body["id"] == str(other.workspace_id) and body["name"] == "globex"
    assert body["urls"]["workflow_hooks"] == []
    assert (await gateway.client.get("/api/v1/workspace")).status == 401


async def test_the_openapi_document_describes_the_workspace_and_the_decision_api(
    gateway: Gateway,
) -> None:
    document = await (await gateway.client.get("/api/v1/openapi.json")).json()

    workspace = document["paths"]["/api/v1/workspace"]["get"]
    assert workspace["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkspaceView"
    }
    decide = document["paths"]["/api/v1/executions/{execution_id}/gates/{node_id}/decisions"]
    assert set(decide["post"]["responses"]) >= {"200", "401", "404", "409", "422"}
    gate_changes = ["extend", "resend", "reassign"]
    for action in gate_changes:
        operation = document["paths"][
            f"/api/v1/executions/{{execution_id}}/gates/{{node_id}}/{action}"
        ]
        assert (
            "200" in operation["post"]["responses"] and "202" not in operation["post"]["responses"]
        )

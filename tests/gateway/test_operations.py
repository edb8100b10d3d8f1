"""Health, readiness, metrics, log context, and the OpenAPI document against the router."""

from typing import Any

import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.app import create_app
from shared.api_keys import create_api_key
from shared.runtime import open_resources
from shared.settings import Settings
from tests.conftest import make_settings
from tests.gateway.conftest import Gateway, running_gateway


async def test_healthz_needs_no_key_and_says_ok(gateway: Gateway) -> None:
    response = await gateway.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_database_and_broker_answer(gateway: Gateway) -> None:
    response = await gateway.client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "consumers": "ok"},
    }


async def test_readyz_is_503_naming_the_broker_when_it_is_not_connected(
    pg_settings: Settings,
) -> None:
    async with (
        open_resources(pg_settings, start_broker=False) as resources,
        running_gateway(resources) as gateway,
    ):
        response = await gateway.client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"] == {
            "database": "ok",
            "broker": "failed",
            "consumers": "ok",
        }


async def test_readyz_is_503_naming_the_database_when_it_does_not_answer() -> None:
    settings = make_settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nothing", amqp_url="memory://"
    )
    async with (
        open_resources(settings) as resources,
        TestClient(TestServer(create_app(resources))) as client,
    ):
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["checks"] == {
            "database": "failed",
            "broker": "ok",
            "consumers": "ok",
        }


async def test_metrics_count_requests_by_route_template_not_raw_path(gateway: Gateway) -> None:
    workflow = await gateway.create_workflow()
    await gateway.client.get(f"/api/v1/workflows/{workflow['id']}", headers=gateway.auth)
    await gateway.client.get("/api/v1/workflows")
    await gateway.client.get("/no/such/page")

    response = await gateway.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert (
        'docflow_http_requests_total{method="GET",route="/api/v1/workflows/{workflow_id}",'
        'status="200"} 1.0' in text
    )
    assert (
        'docflow_http_requests_total{method="GET",route="/api/v1/workflows",status="401"} 1.0'
        in text
    )
    assert 'route="unmatched",status="404"' in text
    assert (
        'docflow_http_request_duration_seconds_count{method="POST",route="/api/v1/workflows"}'
        in text
    )
    assert workflow["id"] not in text


async def test_ids_are_bound_to_the_log_context_for_the_request_only(settings: Settings) -> None:
    seen: dict[str, Any] = {}

    async def probe(request: web.Request) -> web.Response:
        seen.update(structlog.contextvars.get_contextvars())
        return web.json_response({})

    async with open_resources(settings) as resources:
        workspace_id, key = await create_api_key(resources.sessions, "acme")
        app = create_app(resources)
        app.router.add_get("/api/v1/workflows/{workflow_id}/probe", probe)
        async with TestClient(TestServer(app)) as client:
            response = await client.get(
                "/api/v1/workflows/abc/probe", headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status == 200
    assert seen == {"workspace_id": str(workspace_id), "workflow_id": "abc"}
    assert "workspace_id" not in structlog.contextvars.get_contextvars()


def _router_operations(app: web.Application) -> set[tuple[str, str]]:
    """Every API operation; the console's pages are HTML for people, left out on purpose
    (docs/decisions/022)."""
    operations = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        assert route.resource is not None
        if route.resource.canonical.startswith("/console"):
            continue
        operations.add((route.resource.canonical, route.method.lower()))
    return operations


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        for item in value.values():
            found |= _refs(item)
        return found
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value)) if value else set()
    return set()


async def test_the_openapi_document_describes_exactly_the_registered_routes(
    gateway: Gateway,
) -> None:
    response = await gateway.client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    described = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert described == _router_operations(gateway.client.app)

    schemas = document["components"]["schemas"]
    prefix = "#/components/schemas/"
    assert all(ref.startswith(prefix) and ref[len(prefix) :] in schemas for ref in _refs(document))
    create = document["paths"]["/api/v1/workflows"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": prefix + "WorkflowDefinition"
    }
    assert schemas["WorkflowDefinition"]["properties"]["nodes"]["items"] == {
        "$ref": prefix + "NodeDefinition"
    }
    assert {"TriggerConfig", "SetConfig", "WebhookConfig", "DelayConfig"} <= set(schemas)


#: Path values no API answer holds: an approval page's token is mailed, a resume URL's token
#: is signed into the URL (its parts are no fields of their own), and the settings account's
#: signature webhook names only a provider, which the schema's enum gives. The fuzz test gives
#: these real values as explicit examples (tests/gateway/fuzz_seeds.py).
NOT_LINKED = {
    "showApprovalPage",
    "decideApproval",
    "postToResumeUrl",
    "receiveSignatureEvent",
}


async def test_every_operation_with_an_id_in_its_path_is_reached_by_an_openapi_link(
    gateway: Gateway,
) -> None:
    document = await (await gateway.client.get("/api/v1/openapi.json")).json()
    operations = {
        operation["operationId"]: operation
        for described in document["paths"].values()
        for operation in described.values()
    }
    links = [
        link
        for operation in operations.values()
        for answer in operation["responses"].values()
        for link in answer.get("links", {}).values()
    ]
    for link in links:
        target = operations[link["operationId"]]
        assert set(link["parameters"]) <= {p["name"] for p in target.get("parameters", [])}
    with_ids = {
        operation_id
        for operation_id, operation in operations.items()
        if any(p["in"] == "path" for p in operation.get("parameters", []))
    }
    assert with_ids - NOT_LINKED == {link["operationId"] for link in links} & with_ids

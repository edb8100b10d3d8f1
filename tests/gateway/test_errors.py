"""What a client gets when it is wrong: problem documents naming the field, never a trace."""

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from services.gateway.app import create_app
from services.gateway.common.problems import CONTENT_TYPE
from shared.api_keys import hash_key
from shared.db.tables import ApiKey
from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, definition

TRIGGER = {"id": "start", "type": "trigger", "position": 0, "config": {}}


def _set(node_id: str, position: int, values: Any = None) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "set",
        "position": position,
        "config": {"values": values or {"x": 1}},
    }


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == CONTENT_TYPE
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    assert "Traceback" not in json.dumps(body)
    return body


@pytest.mark.parametrize(
    ("nodes", "field"),
    [
        pytest.param([TRIGGER, _set("a", 1), _set("a", 2)], "nodes[2].id", id="duplicate-id"),
        pytest.param([TRIGGER, _set("a", 1), _set("b", 1)], "nodes[2].position", id="dup-position"),
        pytest.param(
            [TRIGGER, {"id": "x", "type": "teleport", "position": 1, "config": {}}],
            "nodes[1].type",
            id="unknown-type",
        ),
        pytest.param(
            [
                TRIGGER,
                {"id": "hook", "type": "webhook", "position": 1, "config": {"url": "not a url"}},
            ],
            "nodes[1].config.url",
            id="bad-config",
        ),
        pytest.param(
            [TRIGGER, _set("a", 1, {"greeting": "{{ source.name "})],
            "nodes[1].config.values.greeting",
            id="template-does-not-parse",
        ),
        pytest.param(
            [_set("a", 0), {**TRIGGER, "position": 1}], "nodes[1].type", id="late-trigger"
        ),
        pytest.param([], "nodes", id="no-nodes"),
    ],
)
async def test_an_invalid_definition_is_refused_with_422_naming_the_field(
    pg_gateway: Gateway, nodes: list[dict[str, Any]], field: str
) -> None:
    response = await pg_gateway.client.post(
        "/api/v1/workflows", json=definition(nodes=nodes), headers=pg_gateway.auth
    )
    body = await _problem(response, 422)
    assert body["field"] == field
    assert field in [e["field"] for e in body["errors"]]
    assert all(e["message"] for e in body["errors"])


async def test_an_invalid_new_version_is_refused_and_the_old_one_stays(gateway: Gateway) -> None:
    created = await gateway.create_workflow()
    response = await gateway.client.put(
        f"/api/v1/workflows/{created['id']}",
        json=definition(name=""),
        headers=gateway.auth,
    )
    assert (await _problem(response, 422))["field"] == "name"
    current = await (
        await gateway.client.get(f"/api/v1/workflows/{created['id']}", headers=gateway.auth)
    ).json()
    assert current["version"] == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer dfk_not-a-key", "Basic dXNlcjpwYXNz", "Bearer "],
)
async def test_a_missing_or_unknown_api_key_is_401(
    gateway: Gateway, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [("GET", "/api/v1/workflows"), ("POST", "/api/v1/workflows")]:
        response = await gateway.client.request(method, path, headers=headers, json=definition())
        await _problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_revoked_key_is_401(pg_gateway: Gateway) -> None:
    async with pg_gateway.resources.sessions.begin() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_key(pg_gateway.key))
            .values(revoked_at=ApiKey.created_at)
        )
    response = await pg_gateway.client.get("/api/v1/workflows", headers=pg_gateway.auth)
    await _problem(response, 401)


async def test_only_the_hash_and_a_short_prefix_of_a_key_are_stored(pg_gateway: Gateway) -> None:
    async with pg_gateway.resources.sessions() as session:
        row = await session.scalar(
            select(ApiKey).where(ApiKey.key_hash == hash_key(pg_gateway.key))
        )
    assert row is not None
    assert pg_gateway.key.startswith("dfk_")
    assert row.prefix == pg_gateway.key[:8]
    assert pg_gateway.key not in (row.key_hash, row.prefix)


async def test_malformed_json_is_400(gateway: Gateway) -> None:
    for raw in (b'{"name": ', b"\xff\xfe", b'{"n": NaN}'):
        response = await gateway.client.post(
            "/api/v1/workflows",
            data=raw,
            headers={**gateway.auth, "Content-Type": "application/json"},
        )
        await _problem(response, 400)


async def test_a_json_body_that_is_not_an_object_is_422_naming_the_body(gateway: Gateway) -> None:
    response = await gateway.client.post("/api/v1/workflows", json=[1, 2], headers=gateway.auth)
    assert (await _problem(response, 422))["field"] == "body"


async def test_a_body_over_the_limit_is_413_when_content_length_says_so(gateway: Gateway) -> None:
    limit = gateway.resources.settings.max_body_bytes
    response = await gateway.client.post(
        "/api/v1/workflows",
        data=io.BytesIO(b" " * (limit + 1)),
        headers={**gateway.auth, "Content-Type": "application/json"},
    )
    assert response.request_info.headers["Content-Length"] == str(limit + 1)
    await _problem(response, 413)


async def test_a_chunked_body_over_the_limit_is_413(gateway: Gateway) -> None:
    limit = gateway.resources.settings.max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent <= limit:
            yield b" " * 65536
            sent += 65536

    response = await gateway.client.post(
        "/api/v1/workflows",
        data=chunks(),
        headers={**gateway.auth, "Content-Type": "application/json"},
    )
    assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request_info.headers
    await _problem(response, 413)


async def test_a_chunked_body_under_the_limit_is_accepted(gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield json.dumps(definition()).encode()

    response = await gateway.client.post(
        "/api/v1/workflows",
        data=chunks(),
        headers={**gateway.auth, "Content-Type": "application/json"},
    )
    assert response.status == 201, await response.text()


async def test_unknown_routes_and_wrong_methods_get_problem_documents(gateway: Gateway) -> None:
    missing = await gateway.client.get("/api/v1/nothing-here", headers=gateway.auth)
    await _problem(missing, 404)
    wrong = await gateway.client.delete("/api/v1/workflows", headers=gateway.auth)
    await _problem(wrong, 405)
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


async def test_an_unexpected_error_is_a_500_problem_without_its_details(
    embedded_settings: Settings,
) -> None:
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("password=hunter2 in /srv/secret.py")

    async with open_resources(embedded_settings) as resources:
        app = create_app(resources)
        app.router.add_get("/boom", explode)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/boom")
            body = await _problem(response, 500)
    assert "hunter2" not in json.dumps(body)
    assert "secret" not in json.dumps(body)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("workflow_id=", "workflow_id", id="empty-uuid"),
        pytest.param("status=", "status", id="empty-status"),
        pytest.param("limit=", "limit", id="empty-limit"),
        pytest.param("limit=5_0", "limit", id="underscore-digits"),
        pytest.param("limit=%D9%A5", "limit", id="arabic-digit"),
        pytest.param("limit=" + "9" * 5000, "limit", id="beyond-any-int"),
        pytest.param("cursor=", "cursor", id="empty-cursor"),
    ],
)
async def test_an_empty_or_oddly_spelled_query_value_is_a_422_naming_it(
    pg_gateway: Gateway, query: str, field: str
) -> None:
    response = await pg_gateway.client.get(f"/api/v1/executions?{query}", headers=pg_gateway.auth)
    body = await _problem(response, 422)
    assert body["field"] == field

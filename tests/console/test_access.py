"""Every console route: nothing without a session, nothing posted without the CSRF value, and
another workspace's ids are 404 everywhere."""

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from services.gateway.console.routes import operations
from shared.db.tables import Document, Execution
from shared.status import ExecutionStatus
from tests.console.support import csrf_in, post, sign_in
from tests.gateway.conftest import Gateway

ROUTES = [(o.method, o.path) for o in operations()]
#: Public on purpose: the sign-in form itself and the stylesheet and script.
PUBLIC = {
    ("GET", "/console/sign-in"),
    ("POST", "/console/sign-in"),
    ("GET", "/console/static/{name}"),
}
GUARDED = [route for route in ROUTES if route not in PUBLIC]
#: A valid value for each path parameter that is not an id.
PLAIN = {"change": "retry", "action": "extend", "node_id": "gate", "version": "1"}


def _fill(template: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return ids.get(name) or PLAIN[name]

    return re.sub(r"\{(\w+)(?::[^}]*)?\}", value, template)


def _form(method: str, csrf: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "trigger_data": "{}",
        "expires_in": "1h",
        "to_email": "new@example.com",
        "from_email": "old@example.com",
    }
    if csrf is not None:
        data["csrf"] = csrf
    return data


async def _ids_of(gateway: Gateway) -> dict[str, str]:
    """A workflow, a run and a document of the gateway's workspace."""
    workflow = await gateway.create_workflow()
    execution = await gateway.start(workflow["id"])
    document_id = uuid.uuid4()
    async with gateway.resources.sessions.begin() as session:
        session.add(
            Document(
                id=document_id,
                workspace_id=gateway.workspace_id,
                execution_id=uuid.UUID(execution["execution_id"]),
                node_id="greet",
                idempotency_key=f"{execution['execution_id']}:greet",
                input_sha256="0" * 64,
                variant="document",
                status="ready",
                name="contract.docx",
                content_type="application/octet-stream",
                sha256="1" * 64,
                size=5,
                content=b"hello",
                provider_ids={},
                links={},
            )
        )
    return {
        "workflow_id": workflow["id"],
        "execution_id": execution["execution_id"],
        "document_id": str(document_id),
        "name": "console.css",
    }


def test_the_console_has_the_routes_these_tests_walk() -> None:
    # A new route joins these tests by being in the table; this says how many there are.
    assert len(GUARDED) == 16


async def test_no_console_page_or_form_works_without_a_session(gateway: Gateway) -> None:
    ids = await _ids_of(gateway)
    for method, template in GUARDED:
        path = _fill(template, ids)
        if method == "GET":
            response = await gateway.client.get(path, allow_redirects=False)
            assert response.status == 303, path
            assert response.headers["Location"].startswith("/console/sign-in"), path
            fragment = await gateway.client.get(
                path, headers={"X-Console-Fragment": "1"}, allow_redirects=False
            )
            assert fragment.status == 401, path
        else:
            status, _, _ = await post(gateway, path, _form(method, "anything"))
            assert status == 401, path
    stream = await gateway.client.get(f"/api/v1/executions/{ids['execution_id']}/events")
    assert stream.status == 401


async def test_every_console_post_without_the_csrf_value_is_refused_and_changes_nothing(
    gateway: Gateway,
) -> None:
    ids = await _ids_of(gateway)
    async with gateway.resources.sessions.begin() as session:
        execution = await session.get(Execution, uuid.UUID(ids["execution_id"]))
        assert execution is not None
        execution.status = ExecutionStatus.FAILED
    csrf = await sign_in(gateway)
    posts = [t for m, t in GUARDED if m == "POST"]
    assert len(posts) == 4
    for template in posts:
        path = _fill(template, ids)
        for sent in (None, "", "x" * 64, csrf[:-1] + ("0" if csrf[-1] != "0" else "1")):
            status, body, _ = await post(gateway, path, _form("POST", sent))
            assert status == 403, (path, sent)
            assert "Nothing was changed" in body
    # Still signed in, nothing queued, retried or cancelled.
    assert (await gateway.client.get("/console/executions")).status == 200
    async with gateway.resources.sessions() as session:
        runs = (await session.scalars(select(Execution))).all()
    assert [r.status for r in runs] == [ExecutionStatus.FAILED]


async def test_another_workspaces_ids_are_404_on_every_console_route(gateway: Gateway) -> None:
    other = await gateway.as_workspace("globex")
    theirs = await _ids_of(other)
    csrf = await sign_in(gateway)
    with_ids = [(m, t) for m, t in GUARDED if re.search(r"\{(execution|workflow|document)_id", t)]
    assert len(with_ids) == 10
    for method, template in with_ids:
        path = _fill(template, theirs)
        if method == "GET":
            response = await gateway.client.get(path, allow_redirects=False)
            status, body = response.status, await response.text()
        else:
            status, body, _ = await post(gateway, path, _form(method, csrf))
        assert status == 404, (method, path, status)
        assert "Not found" in body
        assert theirs["execution_id"] not in body
    # Lists show nothing of theirs either.
    for path in ("/console/executions", "/console/workflows", "/console/approvals"):
        body = await (await gateway.client.get(path)).text()
        assert theirs["workflow_id"] not in body and theirs["execution_id"][:8] not in body


async def test_a_ready_document_downloads_with_the_session(gateway: Gateway) -> None:
    ids = await _ids_of(gateway)
    await sign_in(gateway)
    page = await (await gateway.client.get(f"/console/executions/{ids['execution_id']}")).text()
    assert f'href="/console/documents/{ids["document_id"]}" download>contract.docx' in page
    response = await gateway.client.get(f"/console/documents/{ids['document_id']}")
    assert response.status == 200
    assert await response.read() == b"hello"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "contract.docx" in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("path", ["/console/static/console.js", "/console/static/console.css"])
async def test_the_static_files_are_served_without_a_session(gateway: Gateway, path: str) -> None:
    response = await gateway.client.get(path)
    assert response.status == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await gateway.client.get("/console/static/other.js")).status == 404


async def test_the_sign_in_page_has_a_labelled_field_and_its_csrf_value(gateway: Gateway) -> None:
    page = await (await gateway.client.get("/console/sign-in")).text()
    assert '<label for="api_key">API key</label>' in page
    assert csrf_in(page)

"""Signing in with an API key, the session cookie, signing out, and revoking the key."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from shared.api_keys import revoke_key
from shared.db.tables import ApiKey, ConsoleSession
from shared.runtime import open_resources
from shared.settings import Settings
from tests.console.support import COOKIE, csrf_in, post, sign_in
from tests.gateway.conftest import Gateway, running_gateway


async def test_a_pasted_api_key_becomes_an_httponly_strict_session_stored_as_a_hash(
    gateway: Gateway,
) -> None:
    form = await gateway.client.get("/console/sign-in")
    response = await gateway.client.post(
        "/console/sign-in",
        data={"csrf": csrf_in(await form.text()), "api_key": gateway.key, "next": ""},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/console"
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
    assert cookie["path"] == "/"
    async with gateway.resources.sessions() as session:
        row = await session.scalar(select(ConsoleSession))
    assert row is not None and row.workspace_id == gateway.workspace_id
    assert cookie.value not in row.token_hash and len(row.token_hash) == 64

    page = await gateway.client.get("/console/executions")
    assert page.status == 200
    text = await page.text()
    assert "<h1>Executions</h1>" in text and str(gateway.workspace_id) in text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


async def test_the_cookie_is_secure_when_the_public_url_is_https(gateway: Gateway) -> None:
    settings = gateway.resources.settings
    gateway.resources.settings = settings.model_copy(update={"public_url": "https://df.example"})
    try:
        form = await gateway.client.get("/console/sign-in")
        csrf = csrf_in(await form.text())
        # The form's own cookie is Secure too, so this plain-HTTP client would not send it.
        response = await gateway.client.post(
            "/console/sign-in",
            data={"csrf": csrf, "api_key": gateway.key},
            headers={"Cookie": f"docflow_console_form={csrf}"},
            allow_redirects=False,
        )
    finally:
        gateway.resources.settings = settings
    assert response.status == 303
    assert response.cookies[COOKIE]["secure"]


@pytest.mark.parametrize("key", ["dfk_not-a-key", ""])
async def test_an_unknown_key_is_refused_with_the_form_again(gateway: Gateway, key: str) -> None:
    form = await gateway.client.get("/console/sign-in")
    status, body, _ = await post(
        gateway, "/console/sign-in", {"csrf": csrf_in(await form.text()), "api_key": key}
    )
    assert status == 401
    assert "not valid" in body
    assert (await gateway.client.get("/console/executions", allow_redirects=False)).status == 303


async def test_signing_out_ends_the_session_for_pages_and_the_event_stream(
    gateway: Gateway,
) -> None:
    csrf = await sign_in(gateway)
    execution = await gateway.start((await gateway.create_workflow())["id"])
    events = f"/api/v1/executions/{execution['execution_id']}/events"
    old_cookie = gateway.client.session.cookie_jar.filter_cookies(gateway.client.make_url("/"))[
        COOKIE
    ].value

    status, _, location = await post(gateway, "/console/sign-out", {"csrf": csrf})
    assert (status, location) == (303, "/console/sign-in")

    headers = {"Cookie": f"{COOKIE}={old_cookie}"}
    page = await gateway.client.get("/console/executions", headers=headers, allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/console/sign-in")
    stream = await gateway.client.get(events, headers=headers)
    assert stream.status == 401


async def test_revoking_the_key_ends_its_console_sessions(gateway: Gateway) -> None:
    await sign_in(gateway)
    async with gateway.resources.sessions.begin() as session:
        key_id = await session.scalar(
            select(ApiKey.id).where(ApiKey.workspace_id == gateway.workspace_id)
        )
        assert key_id is not None
        await revoke_key(session, gateway.workspace_id, key_id)
    page = await gateway.client.get("/console/executions", allow_redirects=False)
    assert page.status == 303


async def test_the_sign_in_form_needs_its_csrf_value(gateway: Gateway) -> None:
    await gateway.client.get("/console/sign-in")
    status, _, _ = await post(gateway, "/console/sign-in", {"api_key": gateway.key})
    assert status == 403
    assert (await gateway.client.get("/console/executions", allow_redirects=False)).status == 303


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/console/workflows", "/console/workflows"),
        ("https://evil.example/", "/console"),
        ("//evil.example/console", "/console"),
    ],
)
async def test_sign_in_returns_only_to_a_console_page(
    gateway: Gateway, asked: str, sent_to: str
) -> None:
    form = await gateway.client.get("/console/sign-in")
    status, _, location = await post(
        gateway,
        "/console/sign-in",
        {"csrf": csrf_in(await form.text()), "api_key": gateway.key, "next": asked},
    )
    assert (status, location) == (303, sent_to)


async def test_the_event_stream_takes_the_session_cookie_of_its_own_workspace_only(
    gateway: Gateway,
) -> None:
    await sign_in(gateway)
    mine = await gateway.start((await gateway.create_workflow())["id"])
    other = await gateway.as_workspace("globex")
    theirs = await other.start((await other.create_workflow())["id"])
    # Neither run has an executor: the stream of ours stays open, so only its head is read.
    response = await gateway.client.get(f"/api/v1/executions/{mine['execution_id']}/events")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    response.close()
    response = await gateway.client.get(f"/api/v1/executions/{theirs['execution_id']}/events")
    assert response.status == 404


async def test_an_expired_session_is_refused_and_swept_at_the_next_sign_in(
    gateway: Gateway,
) -> None:
    await sign_in(gateway)
    async with gateway.resources.sessions.begin() as session:
        await session.execute(
            update(ConsoleSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    page = await gateway.client.get("/console/executions", allow_redirects=False)
    assert page.status == 303
    await sign_in(gateway)
    async with gateway.resources.sessions() as session:
        rows = (await session.scalars(select(ConsoleSession))).all()
    assert len(rows) == 1 and rows[0].expires_at > datetime.now(UTC)


async def test_sign_in_attempts_are_limited_per_address_like_the_approval_pages(
    embedded_settings: Settings,
) -> None:
    changed = embedded_settings.model_copy(update={"rate_limit_pages_per_second": 1.0})
    async with open_resources(changed) as resources, running_gateway(resources) as gateway:
        # One a second: a burst of two passes, the third is refused.
        statuses = [
            (await gateway.client.post("/console/sign-in", data={"api_key": "guess"})).status
            for _ in range(3)
        ]
    assert statuses == [403, 403, 429]

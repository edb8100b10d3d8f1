"""Each workspace signs through its own ClickSign / ZapSign account: its connection's token and
base URL for every call of a request (create, poll, download, cancel), its connection's secret
for the webhooks about it, and never another workspace's or the settings account."""

import json
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.connections.crypto import new_secret_key
from shared.esign.model import RequestStatus
from shared.settings import Settings
from tests.signatures.accounts import (
    CLICKSIGN_CONNECTION,
    ZAPSIGN_CONNECTION,
    make_quiet,
    reload,
    run_in,
    scheduler_pass,
    workspace,
)
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import Stack, first_signer, running_stack, signature_workflow
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SIGNER_EMAIL,
    ZAPSIGN_DOC_TOKEN,
    ZAPSIGN_SIGNER_EMAIL,
    clicksign_headers,
    raw,
)
from tests.support import eventually, wait_for_status


@pytest.fixture
async def keyed_stack(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> AsyncIterator[Stack]:
    """Gateway and executor, connections allowed (a secret key); the scheduler's duties are
    run by the tests themselves, one pass at a time."""
    async with running_stack(
        pg_settings, clicksign, zapsign, secret_key=new_secret_key()
    ) as running:
        yield running


def _workflow(provider: str, connection: str) -> dict[str, object]:
    return signature_workflow(provider, [first_signer(provider)], connection=connection)


async def test_each_workspace_creates_polls_downloads_and_cancels_through_its_own_clicksign(
    keyed_stack: Stack,
) -> None:
    stack = keyed_stack
    async with workspace(stack, "alpha") as a, workspace(stack, "beta") as b:
        run_a = await run_in(a, _workflow("clicksign", CLICKSIGN_CONNECTION))
        run_b = await run_in(b, _workflow("clicksign", CLICKSIGN_CONNECTION))
        request_a, request_b = await stack.paused(run_a), await stack.paused(run_b)
        # Both accounts gave their document the same key: only the account tells them apart.
        assert request_a.provider_document_id == request_b.provider_document_id
        assert request_a.provider_document_id == CLICKSIGN_DOCUMENT_KEY
        assert request_a.connection_id == uuid.UUID(a.clicksign_connection["id"])
        assert (len(a.clicksign.envelopes), len(b.clicksign.envelopes)) == (1, 1)
        assert stack.clicksign.calls == []

        # A poll of beta's quiet request asks beta's account only.
        await make_quiet(stack, request_b.id)
        reads_before = (len(a.clicksign.calls), len(stack.clicksign.calls))
        await scheduler_pass(stack)
        [envelope_b] = b.clicksign.envelopes.values()
        assert b.clicksign.calls_to("GET", f"/envelopes/{envelope_b.id}")
        assert (len(a.clicksign.calls), len(stack.clicksign.calls)) == reads_before

        # Alpha's signer signs; the event is verified with alpha's secret, applied to alpha's
        # request only, and the signed file is downloaded from alpha's account.
        a.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
        assert (await a.post_clicksign(raw("clicksign_auto_close.json"), "auto_close")).ok
        done = await wait_for_status(stack.resources, run_a, "completed", "failed")
        assert done.status == "completed", done.error
        [envelope_a] = a.clicksign.envelopes.values()
        assert a.clicksign.calls_to("GET", f"/documents/{CLICKSIGN_DOCUMENT_KEY}")
        assert not b.clicksign.calls_to("GET", f"/documents/{CLICKSIGN_DOCUMENT_KEY}")
        assert (await reload(stack, request_b.id)).status == RequestStatus.PENDING

        # Beta's run is cancelled: its envelope is cancelled through beta's account, once.
        cancelled = await b.gateway.client.post(
            f"/api/v1/executions/{run_b}/cancel", headers=b.gateway.auth
        )
        assert cancelled.status in (200, 202), await cancelled.text()
        await wait_for_status(stack.resources, run_b, "cancelled")
        await scheduler_pass(stack)
        await scheduler_pass(stack)
        assert (a.clicksign.cancels(), b.clicksign.cancels(), stack.clicksign.cancels()) == (
            0,
            1,
            0,
        )
        assert envelope_b.status == "canceled" and envelope_a.status == "closed"
        after = await reload(stack, request_b.id)
        assert (after.cancel_outcome, after.cancelled_at is not None) == ("cancelled", True)


async def test_a_webhook_signed_with_another_workspaces_secret_changes_nothing(
    keyed_stack: Stack,
) -> None:
    stack = keyed_stack
    async with workspace(stack, "alpha") as a, workspace(stack, "beta") as b:
        run_a = await run_in(a, _workflow("clicksign", CLICKSIGN_CONNECTION))
        run_b = await run_in(b, _workflow("clicksign", CLICKSIGN_CONNECTION))
        request_a, request_b = await stack.paused(run_a), await stack.paused(run_b)
        b.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
        body = raw("clicksign_auto_close.json")

        # Beta's valid webhook replayed to alpha's URL, or to the settings account's URL.
        assert (await b.post_clicksign(body, "auto_close", to=a)).status == 401
        to_settings = await stack.gateway.client.post(
            "/api/v1/webhooks/signature/clicksign",
            data=body,
            headers=clicksign_headers(body, "auto_close", secret=b.clicksign_secret),
        )
        assert to_settings.status == 401
        # The settings account's valid webhook names no workspace's request.
        settings_signed = await stack.post_clicksign(body, "auto_close")
        assert (await settings_signed.json())["status"] == "unknown"
        # Alpha's own secret on beta's URL is refused too.
        assert (await a.post_clicksign(body, "auto_close", to=b)).status == 401

        # Beta's webhook on beta's URL finishes beta's run, and only beta's.
        accepted = await b.post_clicksign(body, "auto_close")
        assert (await accepted.json())["status"] == "accepted"
        done = await wait_for_status(stack.resources, run_b, "completed", "failed")
        assert done.status == "completed", done.error
        untouched = await reload(stack, request_a.id)
        assert untouched.status == RequestStatus.PENDING
        assert [s.status for s in untouched.signers] == ["pending"]
        assert (await reload(stack, request_b.id)).status == RequestStatus.SIGNED
        assert (await stack.request_of(run_a)).id == request_a.id


async def test_each_workspace_signs_through_its_own_zapsign(keyed_stack: Stack) -> None:
    stack = keyed_stack
    async with workspace(stack, "alpha") as a, workspace(stack, "beta") as b:
        run_a = await run_in(a, _workflow("zapsign", ZAPSIGN_CONNECTION))
        run_b = await run_in(b, _workflow("zapsign", ZAPSIGN_CONNECTION))
        request_a, request_b = await stack.paused(run_a), await stack.paused(run_b)
        assert request_a.provider_document_id == request_b.provider_document_id
        assert request_a.provider_document_id == ZAPSIGN_DOC_TOKEN
        assert (len(a.zapsign.docs), len(b.zapsign.docs), len(stack.zapsign.calls)) == (1, 1, 0)

        a.zapsign.sign(ZAPSIGN_DOC_TOKEN, ZAPSIGN_SIGNER_EMAIL)
        body = raw("zapsign_doc_signed.json")
        # Alpha's event with beta's header value, or on beta's URL: refused.
        assert (await a.post_zapsign(body, secret=b.zapsign_secret)).status == 401
        assert (await b.post_zapsign(body, secret=a.zapsign_secret)).status == 401
        # On alpha's URL with alpha's secret: the document is re-read from alpha's account.
        reads_b = len(b.zapsign.calls)
        assert (await (await a.post_zapsign(body)).json())["status"] == "accepted"
        done = await wait_for_status(stack.resources, run_a, "completed", "failed")
        assert done.status == "completed", done.error
        assert len(b.zapsign.calls) == reads_b
        assert a.zapsign.calls_to("GET", f"/docs/{ZAPSIGN_DOC_TOKEN}/")
        assert (await reload(stack, request_b.id)).status == RequestStatus.PENDING

        # Beta's quiet request is polled through beta's account; cancelling goes there too.
        await make_quiet(stack, request_b.id)
        reads_a = len(a.zapsign.calls)
        await scheduler_pass(stack)
        assert b.zapsign.calls_to("GET", f"/docs/{ZAPSIGN_DOC_TOKEN}/")
        await b.gateway.client.post(f"/api/v1/executions/{run_b}/cancel", headers=b.gateway.auth)
        await wait_for_status(stack.resources, run_b, "cancelled")
        await scheduler_pass(stack)
        await scheduler_pass(stack)
        assert len(a.zapsign.calls) == reads_a
        assert (a.zapsign.cancels(), b.zapsign.cancels(), stack.zapsign.cancels()) == (0, 1, 0)
        [refused] = b.zapsign.calls_to("POST", "/api/v1/refuse/")
        assert refused.body["doc_token"] == ZAPSIGN_DOC_TOKEN
        assert b.zapsign.docs[ZAPSIGN_DOC_TOKEN]["status"] == "refused"
        after = await reload(stack, request_b.id)
        assert after.cancel_outcome == "cancelled"
        # ZapSign then tells of the refused document: it changes nothing.
        refused_event = json.loads(raw("zapsign_doc_refused.json"))
        refused_event["token"] = ZAPSIGN_DOC_TOKEN
        posted = await b.post_zapsign(json.dumps(refused_event).encode())
        assert (await posted.json())["status"] == "accepted"
        await stack.applied(2)
        final = await reload(stack, request_b.id)
        assert final.status == RequestStatus.CANCELLED
        assert [s.status for s in final.signers] == ["pending"]


async def test_the_connection_shows_its_webhook_url_and_never_its_secret(
    keyed_stack: Stack,
) -> None:
    stack = keyed_stack
    async with workspace(stack, "alpha") as a:
        for connection in (a.clicksign_connection, a.zapsign_connection):
            read = await a.gateway.client.get(
                f"/api/v1/connections/{connection['id']}", headers=a.gateway.auth
            )
            shown = await read.json()
            kind = shown["kind"]
            public_url = stack.resources.settings.public_url.rstrip("/")
            assert shown["webhook_url"] == (
                f"{public_url}/api/v1/webhooks/signature/{kind}/{connection['id']}"
            )
            assert "webhook_secret" in shown["fields"]
            assert "secret-of-alpha" not in await read.text()
            assert "token-of-alpha" not in await read.text()


async def test_an_unknown_connection_id_in_a_webhook_url_is_a_404_problem(
    keyed_stack: Stack,
) -> None:
    stack = keyed_stack
    async with workspace(stack, "alpha") as a:
        body = raw("clicksign_sign.json")
        headers = clicksign_headers(body, "sign", secret=a.clicksign_secret)
        for path in (
            "/api/v1/webhooks/signature/clicksign/00000000-0000-0000-0000-000000000000",
            "/api/v1/webhooks/signature/clicksign/not-a-uuid",
            # Alpha's zapsign connection is no clicksign account.
            f"/api/v1/webhooks/signature/clicksign/{a.zapsign_connection['id']}",
        ):
            response = await stack.gateway.client.post(path, data=body, headers=headers)
            assert response.status == 404, path
            problem = await response.json()
            assert response.content_type == "application/problem+json"
            assert (problem["status"], problem["title"]) == (404, "Not Found")


async def test_a_signature_node_whose_connection_disagrees_is_refused_when_saved(
    keyed_stack: Stack,
) -> None:
    stack = keyed_stack
    async with workspace(stack, "alpha") as a:
        mismatch = signature_workflow(
            "zapsign", [first_signer("zapsign")], connection=CLICKSIGN_CONNECTION
        )
        response = await a.gateway.client.post(
            "/api/v1/workflows", json=mismatch, headers=a.gateway.auth
        )
        assert response.status == 422
        assert (await response.json())["errors"][0]["field"] == "nodes[1].config.provider"

        smtp = await a.gateway.client.post(
            "/api/v1/connections",
            json={
                "name": "mail",
                "kind": "smtp",
                "config": {"host": "smtp.example.com", "from_address": "a@example.com"},
            },
            headers=a.gateway.auth,
        )
        assert smtp.status == 201
        wrong_kind = signature_workflow("clicksign", [first_signer("clicksign")], connection="mail")
        response = await a.gateway.client.post(
            "/api/v1/workflows", json=wrong_kind, headers=a.gateway.auth
        )
        assert response.status == 422
        assert (await response.json())["errors"][0]["field"] == "nodes[1].config.connection"

        neither = signature_workflow("clicksign", [first_signer("clicksign")])
        del neither["nodes"][1]["config"]["provider"]
        response = await a.gateway.client.post(
            "/api/v1/workflows", json=neither, headers=a.gateway.auth
        )
        assert response.status == 422
        assert (await response.json())["errors"][0]["field"].startswith("nodes[1].config")


async def test_a_connection_alone_picks_the_provider_and_a_missing_one_fails_the_node(
    keyed_stack: Stack,
) -> None:
    stack = keyed_stack
    async with workspace(stack, "alpha") as a:
        by_connection = signature_workflow(
            "zapsign", [first_signer("zapsign")], connection=ZAPSIGN_CONNECTION
        )
        del by_connection["nodes"][1]["config"]["provider"]
        run = await run_in(a, by_connection)
        request = await stack.paused(run)
        assert (request.provider, len(a.zapsign.docs)) == ("zapsign", 1)

        missing = signature_workflow("clicksign", [first_signer("clicksign")], connection="nope")
        failed_run = await run_in(a, missing)
        failed = await wait_for_status(stack.resources, failed_run, "failed", "completed")
        assert failed.status == "failed"
        assert "no clicksign or zapsign connection named 'nope'" in (failed.error or "")
        assert stack.clicksign.calls == []


async def test_the_settings_account_still_serves_nodes_without_a_connection(
    keyed_stack: Stack,
) -> None:
    stack = keyed_stack
    run = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    request = await stack.paused(run)
    assert request.connection_id is None
    assert len(stack.clicksign.envelopes) == 1
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    posted = await stack.post_clicksign(raw("clicksign_auto_close.json"), "auto_close")
    assert (await posted.json())["status"] == "accepted"
    done = await wait_for_status(stack.resources, run, "completed", "failed")
    assert done.status == "completed", done.error
    await eventually(lambda: reload(stack, request.id), lambda r: r.signed_document is not None)

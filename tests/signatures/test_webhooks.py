"""Webhook ingestion: authentic bodies only, each event once, early events kept."""

import asyncio

import pytest
from sqlalchemy import func, select, text

from shared.broker.topology import SIGNATURES
from shared.db.tables import InboxEvent, OutboxMessage
from shared.esign import store
from tests.signatures.harness import (
    SECOND_SIGNER,
    Stack,
    first_signer,
    pending_request,
    signature_workflow,
)
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SIGNER_EMAIL,
    VECTORS,
    ZAPSIGN_DOC_TOKEN,
    ZAPSIGN_SIGNER_EMAIL,
    clicksign_event,
    clicksign_headers,
    clicksign_vector,
    raw,
    zapsign_event,
)
from tests.support import eventually, execution_row, wait_for_status


async def _inbox(stack: Stack) -> int:
    async with stack.resources.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(InboxEvent)) or 0)


async def _staged_events(stack: Stack) -> int:
    """`signatures.events` messages staged and not yet published (the executor's own outbox
    rows come and go meanwhile, so only these are counted)."""
    async with stack.resources.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.queue == SIGNATURES)
        )
    return int(count or 0)


async def test_every_documented_clicksign_body_with_its_documented_hmac_is_accepted(
    ingest: Stack,
) -> None:
    await pending_request(ingest, "clicksign", CLICKSIGN_DOCUMENT_KEY, (CLICKSIGN_SIGNER_EMAIL,))
    for name in VECTORS["files"]:
        vector = clicksign_vector(name)
        response = await ingest.post_clicksign(raw(name), vector["Event"], vector)
        assert response.status == 200, (name, await response.text())
        assert await response.json() == {"status": "accepted", "event": vector["Event"]}
    assert await _inbox(ingest) == len(VECTORS["files"])
    redelivered = await ingest.post_clicksign(
        raw("clicksign_sign.json"), "sign", clicksign_vector("clicksign_sign.json")
    )
    assert (await redelivered.json())["status"] == "duplicate"
    assert await _inbox(ingest) == len(VECTORS["files"])
    counted = ingest.resources.metrics.registry.get_sample_value
    labels = {"provider": "clicksign"}
    assert counted("docflow_webhook_events_total", {**labels, "outcome": "accepted"}) == 7
    assert counted("docflow_webhook_events_total", {**labels, "outcome": "duplicate"}) == 1


@pytest.mark.parametrize(
    "tamper",
    ["forged with another secret", "body altered after signing", "no signature", "bare hex"],
)
async def test_a_forged_altered_or_unsigned_clicksign_body_gets_401_and_changes_nothing(
    stack: Stack, tamper: str
) -> None:
    execution_id = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    await stack.paused(execution_id)
    body = raw("clicksign_sign.json")
    headers = clicksign_vector("clicksign_sign.json")
    if tamper == "forged with another secret":
        headers = clicksign_headers(body, "sign", secret="not-the-secret")
    elif tamper == "body altered after signing":
        body = body.replace(b'"sign_as": "party"', b'"sign_as": "witness"')
        assert body != raw("clicksign_sign.json")
    elif tamper == "no signature":
        headers = {"Content-Type": "application/json", "Event": "sign"}
    else:
        headers = {**headers, "Content-Hmac": headers["Content-Hmac"].removeprefix("sha256=")}
    response = await stack.post_clicksign(body, "sign", headers)

    assert response.status == 401
    assert stack.resources.metrics.registry.get_sample_value(
        "docflow_webhook_events_total", {"provider": "clicksign", "outcome": "rejected"}
    )
    problem = await response.json()
    assert problem["status"] == 401 and "Content-Hmac" in problem["detail"]
    assert await _inbox(stack) == 0
    assert await _staged_events(stack) == 0
    request = await stack.request_of(execution_id)
    assert [s.status for s in request.signers] == ["pending"]
    assert (await execution_row(stack.resources, execution_id)).status == "paused"


@pytest.mark.parametrize("secret", [None, "wrong-secret", ""])
async def test_a_zapsign_body_without_the_configured_secret_gets_401_and_changes_nothing(
    stack: Stack, secret: str | None
) -> None:
    execution_id = await stack.run(signature_workflow("zapsign", [first_signer("zapsign")]))
    await stack.paused(execution_id)
    stack.zapsign.sign(ZAPSIGN_DOC_TOKEN, ZAPSIGN_SIGNER_EMAIL)
    response = await stack.post_zapsign(raw("zapsign_doc_signed.json"), secret=secret)
    assert response.status == 401
    assert await _inbox(stack) == 0
    assert (await execution_row(stack.resources, execution_id)).status == "paused"
    assert stack.zapsign.calls_to("GET", f"/docs/{ZAPSIGN_DOC_TOKEN}/") == []


async def test_the_same_event_delivered_100_times_at_once_resumes_the_run_once(
    stack: Stack,
) -> None:
    execution_id = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    await stack.paused(execution_id)
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    body, headers = raw("clicksign_sign.json"), clicksign_vector("clicksign_sign.json")

    responses = await asyncio.gather(
        *(stack.post_clicksign(body, "sign", headers) for _ in range(100))
    )

    assert [r.status for r in responses] == [200] * 100
    outcomes = [(await r.json())["status"] for r in responses]
    assert sorted(set(outcomes)) == ["accepted", "duplicate"]
    assert outcomes.count("accepted") == 1
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert await _inbox(stack) == 1
    assert await stack.resumes(execution_id) == 1
    assert await stack.step_runs(execution_id, "after") == 1


async def test_events_that_arrive_before_the_pause_commits_are_applied_when_the_wait_opens(
    stack: Stack,
) -> None:
    """The checkpoint that pauses the run is held back by a row lock while both signers sign;
    once it commits, the wait opens, sees both signatures and resumes at once."""
    notify = stack.clicksign.hold("notify")
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    execution_id = await stack.run(signature_workflow("clicksign", signers))
    await asyncio.wait_for(notify.reached.wait(), 20)
    async with stack.resources.engine.connect() as lock:
        await lock.execute(
            text("SELECT 1 FROM executions WHERE id = :id FOR NO KEY UPDATE"), {"id": execution_id}
        )
        notify.release.set()
        await eventually(lambda: stack.request_of(execution_id), lambda r: r.status == "pending")
        stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
        first = raw("clicksign_sign.json")
        await stack.post_clicksign(first, "sign", clicksign_vector("clicksign_sign.json"))
        second_id = stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, SECOND_SIGNER["email"])
        second = clicksign_event(
            "sign", signer_key=second_id, signer_email=SECOND_SIGNER["email"], occurred_at="x"
        )
        await stack.post_clicksign(second, "sign")
        await stack.applied(2)
        assert (await stack.request_of(execution_id)).status == "signed"
        # The pause has not committed: the run is still `running` at the signature node.
        assert (await execution_row(stack.resources, execution_id)).status == "running"
        await lock.rollback()
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["sign"]["signed_document"] is not None
    assert await stack.resumes(execution_id) == 1
    async with stack.resources.engine.connect() as conn:
        request = await store.by_wait(conn, (await stack.request_of(execution_id)).wait_id)
    assert request is not None and request.status == "signed"


async def test_an_event_for_no_known_request_is_answered_200_and_kept_nowhere(
    stack: Stack,
) -> None:
    body = clicksign_event("sign", document_key="00000000-0000-0000-0000-00000000beef")
    response = await stack.post_clicksign(body, "sign")
    assert response.status == 200
    assert (await response.json())["status"] == "unknown"
    assert await _inbox(stack) == 0


async def test_a_zapsign_event_finds_its_request_by_external_id_before_the_token_is_known(
    ingest: Stack,
) -> None:
    """ZapSign may call before its answer to the create call was recorded: the body's
    `external_id` is the node's idempotency key."""
    request = await pending_request(
        ingest, "zapsign", ZAPSIGN_DOC_TOKEN, (ZAPSIGN_SIGNER_EMAIL,), create=False
    )
    assert request.provider_document_id is None
    key = f"{request.execution_id}:sign"
    response = await ingest.post_zapsign(zapsign_event("doc_created", external_id=key))
    assert (await response.json())["status"] == "accepted"
    async with ingest.resources.engine.connect() as conn:
        stored = (await conn.execute(select(InboxEvent.payload))).scalar_one()
    assert stored["external_id"] == key


async def test_an_event_whose_key_is_longer_than_the_inbox_column_is_stored_once_by_its_hash(
    stack: Stack,
) -> None:
    execution_id = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    await stack.paused(execution_id)
    # A signer key of 400 characters makes an event key wider than inbox.event_key (300).
    body = clicksign_event("sign", signer_key="k" * 400)

    first = await stack.post_clicksign(body, "sign")
    again = await stack.post_clicksign(body, "sign")

    assert (first.status, (await first.json())["status"]) == (200, "accepted")
    assert (again.status, (await again.json())["status"]) == (200, "duplicate")
    assert await _inbox(stack) == 1

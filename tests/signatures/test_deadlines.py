"""Deadlines: DocFlow's own (the wait's expiry, fired by the scheduler) and the provider's."""

from tests.signatures.harness import SECOND_SIGNER, Stack, first_signer, signature_workflow
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SIGNER_EMAIL,
    ZAPSIGN_DOC_TOKEN,
    clicksign_vector,
    raw,
    zapsign_event,
)
from tests.support import wait_for_status, waits_of


async def test_the_deadline_fails_the_run_with_how_many_had_signed(
    stack_with_scheduler: Stack,
) -> None:
    stack = stack_with_scheduler
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    workflow = signature_workflow("clicksign", signers, expires_in=2)
    execution_id = await stack.run(workflow)
    request = await stack.paused(execution_id)
    assert request.expires_at is not None
    # ClickSign was told the same deadline.
    [envelope] = stack.clicksign.envelopes.values()
    assert envelope.attributes["deadline_at"] == request.expires_at.isoformat()

    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    body = raw("clicksign_sign.json")
    await stack.post_clicksign(body, "sign", clicksign_vector("clicksign_sign.json"))
    failed = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert failed.status == "failed"
    assert failed.error is not None
    assert "expired" in failed.error and "1 of 2 required signatures" in failed.error
    assert (await stack.request_of(execution_id)).status == "expired"
    assert await stack.step_runs(execution_id, "after") == 0
    [wait] = await waits_of(stack.resources, execution_id)
    assert (wait.status, (wait.decision or {}).get("outcome")) == ("expired", "expired")


async def test_the_deadline_with_on_timeout_continue_goes_on_with_outcome_expired(
    stack_with_scheduler: Stack,
) -> None:
    stack = stack_with_scheduler
    workflow = signature_workflow(
        "clicksign", [first_signer("clicksign")], expires_in="1s", on_timeout="continue"
    )
    execution_id = await stack.run(workflow)
    await stack.paused(execution_id)
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["after"]["outcome"] == "expired"
    assert done.context["signature_requests"]["sign"]["signers"][0]["status"] == "pending"
    [wait] = await waits_of(stack.resources, execution_id)
    assert wait.status == "expired"


async def test_clicksigns_deadline_event_expires_the_request(stack: Stack) -> None:
    execution_id = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    await stack.paused(execution_id)
    body = raw("clicksign_deadline.json")
    await stack.post_clicksign(body, "deadline", clicksign_vector("clicksign_deadline.json"))
    failed = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert failed.status == "failed"
    assert failed.error is not None and "ClickSign's deadline was reached" in failed.error


async def test_zapsigns_doc_expired_is_checked_with_zapsign_and_expires_the_request(
    stack: Stack,
) -> None:
    execution_id = await stack.run(signature_workflow("zapsign", [first_signer("zapsign")]))
    await stack.paused(execution_id)
    # The documented body names a placeholder document; this one names ours.
    body = zapsign_event("doc_expired", token=ZAPSIGN_DOC_TOKEN)
    assert (await stack.post_zapsign(body)).status == 200
    failed = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert failed.status == "failed"
    assert failed.error is not None and "ZapSign's deadline was reached" in failed.error
    assert stack.zapsign.calls_to("GET", f"/api/v1/docs/{ZAPSIGN_DOC_TOKEN}/")

"""Signature waits are never stranded: an event no executor can apply fails its run with the
reason, and a request whose file was never fetched is completed by reconciliation."""

from shared.broker.topology import SIGNATURES
from tests.signatures.harness import (
    SECOND_SIGNER,
    Stack,
    first_signer,
    signature_workflow,
)
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SIGNER_EMAIL,
    ZAPSIGN_DOC_TOKEN,
    ZAPSIGN_SIGNER_EMAIL,
    clicksign_vector,
    raw,
)
from tests.support import eventually, wait_for_status, waits_of


async def test_a_signature_event_that_fails_on_every_delivery_fails_its_run_with_the_reason(
    stack: Stack,
) -> None:
    execution_id = await stack.run(signature_workflow("zapsign", [first_signer("zapsign")]))
    await stack.paused(execution_id)
    stack.zapsign.sign(ZAPSIGN_DOC_TOKEN, ZAPSIGN_SIGNER_EMAIL)
    # ZapSign's webhooks are believed only after re-reading the document, and ZapSign is now
    # out of reach for good: every delivery of the event fails.
    await stack.zapsign.stop()
    assert (await stack.post_zapsign(raw("zapsign_doc_signed.json"))).status == 200

    done = await wait_for_status(stack.resources, execution_id, "failed", "completed", within=40)

    assert done.status == "failed"
    assert "no executor could run it" in (done.error or "")
    [wait] = await waits_of(stack.resources, execution_id)
    assert wait.status != "open"
    assert await eventually(lambda: stack.resources.broker.dead_letters(SIGNATURES)) == 1


async def test_a_request_whose_signed_file_was_never_fetched_is_completed_by_reconciliation(
    polling: Stack,
) -> None:
    """Every signer's webhook arrived, but ClickSign had not produced the signed file yet, and
    the envelope's closing event was lost: the scheduler fetches the file once it exists."""
    stack = polling
    stack.clicksign.signed_file_ready = False
    execution_id = await stack.run(
        signature_workflow("clicksign", [first_signer("clicksign"), SECOND_SIGNER])
    )
    await stack.paused(execution_id)
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    vector = clicksign_vector("clicksign_sign.json")
    assert (await stack.post_clicksign(raw("clicksign_sign.json"), "sign", vector)).status == 200
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, SECOND_SIGNER["email"])
    # The second signer's webhook is lost too, and so is the envelope's closing event.
    request = await eventually(
        lambda: stack.request_of(execution_id),
        lambda r: r.status == "signed" and r.provider_done,
        within=30,
    )
    assert request.signed_document_id is None
    assert (await wait_for_status(stack.resources, execution_id, "paused")).status == "paused"

    stack.clicksign.signed_file_ready = True
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed", within=30)

    assert done.status == "completed", done.error
    assert done.context["signature_requests"]["sign"]["signed_document"] is not None
    assert await stack.resumes(execution_id) == 1

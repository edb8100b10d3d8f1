"""A lost webhook cannot hang a run: the scheduler polls quiet requests from their provider."""

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
from tests.support import wait_for_status


async def test_a_lost_last_clicksign_webhook_is_found_by_polling_and_the_run_resumes(
    polling: Stack,
) -> None:
    stack = polling
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    execution_id = await stack.run(signature_workflow("clicksign", signers))
    await stack.paused(execution_id)
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    vector = clicksign_vector("clicksign_sign.json")
    await stack.post_clicksign(raw("clicksign_sign.json"), "sign", vector)
    # The second signer signs and ClickSign closes the envelope; its webhooks never arrive.
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, SECOND_SIGNER["email"])

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed", within=30)

    assert done.status == "completed", done.error
    assert stack.clicksign.calls_to("GET", "/api/v3/envelopes/" + _envelope_id(stack))
    assert done.context["signature_requests"]["sign"]["signed_document"] is not None
    assert await stack.resumes(execution_id) == 1


async def test_zapsign_requests_without_any_webhook_are_polled_to_completion(
    polling: Stack,
) -> None:
    stack = polling
    signers = [first_signer("zapsign"), SECOND_SIGNER]
    execution_id = await stack.run(signature_workflow("zapsign", signers))
    await stack.paused(execution_id)
    stack.zapsign.sign(ZAPSIGN_DOC_TOKEN, ZAPSIGN_SIGNER_EMAIL)
    stack.zapsign.sign(ZAPSIGN_DOC_TOKEN, SECOND_SIGNER["email"])

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed", within=30)

    assert done.status == "completed", done.error
    summary = done.context["signature_requests"]["sign"]
    assert [s["status"] for s in summary["signers"]] == ["signed", "signed"]
    assert summary["signed_document"]["size"] > 0
    assert await stack.resumes(execution_id) == 1


def _envelope_id(stack: Stack) -> str:
    [envelope] = stack.clicksign.envelopes.values()
    return envelope.id

"""ZapSign end to end: unsigned webhooks are believed only after re-reading the document."""

import hashlib

from tests.signatures.fake_server import signed_pdf
from tests.signatures.harness import SECOND_SIGNER, Stack, first_signer, signature_workflow
from tests.signatures.providers import (
    ZAPSIGN_DOC_TOKEN,
    ZAPSIGN_SIGNER_EMAIL,
    ZAPSIGN_SIGNER_TOKEN,
    raw,
    zapsign_event,
)
from tests.support import wait_for_status


async def test_two_signers_all_each_doc_signed_is_checked_and_the_second_resumes_once(
    stack: Stack,
) -> None:
    workflow = signature_workflow("zapsign", [first_signer("zapsign"), SECOND_SIGNER])
    execution_id = await stack.run(workflow)
    request = await stack.paused(execution_id)
    assert request.provider_request_id == ZAPSIGN_DOC_TOKEN
    assert request.signers[0].provider_signer_id == ZAPSIGN_SIGNER_TOKEN

    stack.zapsign.sign(ZAPSIGN_DOC_TOKEN, ZAPSIGN_SIGNER_EMAIL)
    response = await stack.post_zapsign(raw("zapsign_doc_signed.json"))
    assert response.status == 200 and (await response.json())["status"] == "accepted"
    await stack.applied(1)
    assert [s.status for s in (await stack.request_of(execution_id)).signers] == [
        "signed",
        "pending",
    ]
    assert (await wait_for_status(stack.resources, execution_id, "paused")).status == "paused"
    # The webhook body said `status: signed`; only ZapSign's own answer was believed.
    assert len(stack.zapsign.calls_to("GET", f"/api/v1/docs/{ZAPSIGN_DOC_TOKEN}/")) == 1

    second = stack.zapsign.sign(ZAPSIGN_DOC_TOKEN, SECOND_SIGNER["email"])
    body = zapsign_event(
        "doc_signed",
        signer_token=second["token"],
        signer_email=SECOND_SIGNER["email"],
        signed_at=second["signed_at"],
    )
    assert (await stack.post_zapsign(body)).status == 200
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert await stack.resumes(execution_id) == 1
    assert await stack.step_runs(execution_id, "after") == 1
    signed = done.context["signature_requests"]["sign"]["signed_document"]
    assert signed["sha256"] == hashlib.sha256(signed_pdf(ZAPSIGN_DOC_TOKEN)).hexdigest()
    assert done.context["node_outputs"]["after"] == {"outcome": "signed", "documents": 1}
    assert len(stack.zapsign.calls_to("POST", "/api/v1/docs/")) == 1


async def test_a_doc_signed_for_a_cancelled_document_does_not_resume_the_run(
    stack: Stack,
) -> None:
    execution_id = await stack.run(signature_workflow("zapsign", [first_signer("zapsign")]))
    await stack.paused(execution_id)
    stack.zapsign.cancel(ZAPSIGN_DOC_TOKEN)

    response = await stack.post_zapsign(raw("zapsign_doc_signed.json"))
    assert (await response.json())["status"] == "accepted"

    ended = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert ended.status == "failed"
    assert ended.error is not None and "cancelled at zapsign" in ended.error
    request = await stack.request_of(execution_id)
    assert (request.status, request.signers[0].status) == ("cancelled", "pending")
    assert await stack.step_runs(execution_id, "after") == 0
    assert request.signed_document_id is None


async def test_a_refusal_at_zapsign_fails_the_run_with_the_reason(stack: Stack) -> None:
    workflow = signature_workflow("zapsign", [first_signer("zapsign"), SECOND_SIGNER])
    execution_id = await stack.run(workflow)
    await stack.paused(execution_id)
    stack.zapsign.refuse(ZAPSIGN_DOC_TOKEN, SECOND_SIGNER["email"], "Motivo da recusa do documento")

    assert (await stack.post_zapsign(raw("zapsign_doc_refused.json"))).status == 200
    failed = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert failed.status == "failed"
    assert failed.error is not None
    assert f"signer {SECOND_SIGNER['name']} <{SECOND_SIGNER['email']}>" in failed.error
    assert "Motivo da recusa do documento" in failed.error

"""`any` and `quorum` over signers, refusals, and events that come after the wait decided."""

import asyncio

from tests.signatures.harness import (
    SECOND_SIGNER,
    THIRD_SIGNER,
    Stack,
    first_signer,
    signature_workflow,
)
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SIGNER_EMAIL,
    clicksign_event,
    clicksign_vector,
    raw,
)
from tests.support import wait_for_status


async def _sign(stack: Stack, email: str, at: str) -> None:
    signer_id = stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, email)
    body = clicksign_event("sign", signer_key=signer_id, signer_email=email, occurred_at=at)
    response = await stack.post_clicksign(body, "sign")
    assert response.status == 200, await response.text()


async def test_rule_any_resumes_on_the_first_signature_and_a_later_one_changes_nothing(
    stack: Stack,
) -> None:
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    execution_id = await stack.run(signature_workflow("clicksign", signers, rule="any"))
    await stack.paused(execution_id)

    await _sign(stack, SECOND_SIGNER["email"], "2030-01-01T10:00:00-03:00")
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    decision = done.context["node_outputs"]["sign"]
    assert (decision["outcome"], decision["signed"]) == ("signed", 1)
    # Not everyone signed, so ClickSign has no finished file yet: none is claimed.
    assert decision["signed_document"] is None

    await _sign(stack, CLICKSIGN_SIGNER_EMAIL, "2030-01-01T11:00:00-03:00")
    await stack.applied(2)
    request = await stack.request_of(execution_id)
    assert [s.status for s in request.signers] == ["signed", "signed"]
    assert await stack.resumes(execution_id) == 1
    assert await stack.step_runs(execution_id, "after") == 1


async def test_two_signers_signing_at_the_same_moment_both_count(stack: Stack) -> None:
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    execution_id = await stack.run(signature_workflow("clicksign", signers))
    await stack.paused(execution_id)
    await asyncio.gather(
        _sign(stack, CLICKSIGN_SIGNER_EMAIL, "2030-01-01T10:00:00-03:00"),
        _sign(stack, SECOND_SIGNER["email"], "2030-01-01T10:00:00-03:00"),
    )
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert await stack.resumes(execution_id) == 1


async def test_quorum_two_of_three_waits_for_the_second_signature_and_ignores_a_late_refusal(
    stack: Stack,
) -> None:
    signers = [first_signer("clicksign"), SECOND_SIGNER, THIRD_SIGNER]
    workflow = signature_workflow("clicksign", signers, rule="quorum", required=2)
    execution_id = await stack.run(workflow)
    await stack.paused(execution_id)

    await _sign(stack, THIRD_SIGNER["email"], "2030-01-01T10:00:00-03:00")
    await stack.applied(1)
    assert (await stack.request_of(execution_id)).status == "pending"
    assert (await wait_for_status(stack.resources, execution_id, "paused")).status == "paused"

    await _sign(stack, SECOND_SIGNER["email"], "2030-01-01T10:05:00-03:00")
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["sign"]["signed"] == 2

    body = raw("clicksign_refusal.json")
    refused = await stack.post_clicksign(
        body, "refusal", clicksign_vector("clicksign_refusal.json")
    )
    assert refused.status == 200
    await stack.applied(3)
    request = await stack.request_of(execution_id)
    assert [s.status for s in request.signers] == ["refused", "signed", "signed"]
    assert request.status == "signed"
    assert await stack.resumes(execution_id) == 1


async def test_quorum_fails_once_refusals_leave_too_few_signers_to_reach_it(stack: Stack) -> None:
    signers = [first_signer("clicksign"), SECOND_SIGNER, THIRD_SIGNER]
    workflow = signature_workflow("clicksign", signers, rule="quorum", required=3)
    execution_id = await stack.run(workflow)
    await stack.paused(execution_id)

    body = raw("clicksign_refusal.json")
    await stack.post_clicksign(body, "refusal", clicksign_vector("clicksign_refusal.json"))
    failed = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert failed.status == "failed"
    assert failed.error is not None
    assert f"signer Ana Pereira <{CLICKSIGN_SIGNER_EMAIL}> refused to sign" in failed.error
    assert "mais de 18 caracteres" in failed.error
    assert await stack.step_runs(execution_id, "after") == 0


async def test_a_refusal_fails_rule_all_with_the_signer_and_the_reason(stack: Stack) -> None:
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    execution_id = await stack.run(signature_workflow("clicksign", signers))
    await stack.paused(execution_id)

    body = raw("clicksign_refusal.json")
    response = await stack.post_clicksign(
        body, "refusal", clicksign_vector("clicksign_refusal.json")
    )
    assert response.status == 200
    failed = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert failed.status == "failed"
    assert failed.error is not None
    assert (
        f"signer Ana Pereira <{CLICKSIGN_SIGNER_EMAIL}> refused to sign at clicksign"
        in failed.error
    )
    assert "Conteúdo do documento" in failed.error and "mais de 18 caracteres" in failed.error
    request = await stack.request_of(execution_id)
    assert (request.status, request.signers[0].status) == ("refused", "refused")
    assert await stack.step_runs(execution_id, "after") == 0


async def test_a_refusal_with_on_refusal_continue_goes_on_with_the_outcome_in_the_context(
    stack: Stack,
) -> None:
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    workflow = signature_workflow("clicksign", signers, on_refusal="continue")
    execution_id = await stack.run(workflow)
    await stack.paused(execution_id)

    body = raw("clicksign_refusal.json")
    await stack.post_clicksign(body, "refusal", clicksign_vector("clicksign_refusal.json"))
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
    summary = done.context["signature_requests"]["sign"]
    assert summary["outcome"] == "refused"
    assert summary["refused_by"]["email"] == CLICKSIGN_SIGNER_EMAIL
    assert done.context["node_outputs"]["after"] == {"outcome": "refused", "documents": 0}


async def test_a_request_cancelled_at_clicksign_fails_the_run(stack: Stack) -> None:
    execution_id = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    await stack.paused(execution_id)

    body = raw("clicksign_cancel.json")
    await stack.post_clicksign(body, "cancel", clicksign_vector("clicksign_cancel.json"))
    failed = await wait_for_status(stack.resources, execution_id, "failed", "completed")
    assert failed.status == "failed"
    assert failed.error is not None and "cancelled at clicksign" in failed.error

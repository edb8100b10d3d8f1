"""A ClickSign envelope closed by hand before its rule is met is `closed`, never `signed`: the
run fails on it (`on_refusal: fail`, the default) or goes on with each signer's status."""

import uuid
from typing import Any

from tests.signatures.harness import SECOND_SIGNER, Stack, first_signer, signature_workflow
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SIGNER_EMAIL,
    clicksign_vector,
    raw,
)
from tests.support import wait_for_status


async def _one_signs_then_someone_closes(stack: Stack, **config: Any) -> uuid.UUID:
    signers = [first_signer("clicksign"), SECOND_SIGNER]
    execution_id = await stack.run(signature_workflow("clicksign", signers, **config))
    await stack.paused(execution_id)
    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    signed = await stack.post_clicksign(
        raw("clicksign_sign.json"), "sign", clicksign_vector("clicksign_sign.json")
    )
    assert signed.status == 200
    await stack.applied(1)
    stack.clicksign.close(CLICKSIGN_DOCUMENT_KEY)
    closed = await stack.post_clicksign(
        raw("clicksign_close.json"), "close", clicksign_vector("clicksign_close.json")
    )
    assert closed.status == 200, await closed.text()
    return execution_id


async def test_an_envelope_closed_by_hand_with_one_of_two_signatures_fails_the_run(
    stack: Stack,
) -> None:
    execution_id = await _one_signs_then_someone_closes(stack)

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert done.error is not None and "closed at clicksign before the rule was met" in done.error
    assert "1 of 2 required signatures" in done.error
    assert f"{SECOND_SIGNER['email']}> pending" in done.error
    request = await stack.request_of(execution_id)
    assert request.status == "closed"
    assert await stack.resumes(execution_id) == 1
    assert await stack.step_runs(execution_id, "after") == 0
    [view] = (await stack.detail(execution_id))["signature_requests"]
    assert view["status"] == "closed"
    assert [s["status"] for s in view["signers"]] == ["signed", "pending"]
    assert view["provider_document_id"] == CLICKSIGN_DOCUMENT_KEY


async def test_with_on_refusal_continue_the_run_goes_on_with_outcome_closed(
    stack: Stack,
) -> None:
    execution_id = await _one_signs_then_someone_closes(stack, on_refusal="continue")

    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    summary = done.context["signature_requests"]["sign"]
    assert summary["outcome"] == "closed" and summary["signed"] == 1
    assert [s["status"] for s in summary["signers"]] == ["signed", "pending"]
    assert summary["signed_document"] is None
    assert done.context["node_outputs"]["after"]["outcome"] == "closed"

"""ClickSign end to end: the documented webhook bodies drive a paused run to its next node."""

import hashlib

from shared.esign.model import SignerStatus
from shared.settings import Settings
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_server import signed_pdf
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import (
    SECOND_SIGNER,
    Stack,
    first_signer,
    running_stack,
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


async def test_two_signers_all_the_first_sign_keeps_the_run_paused_the_second_resumes_it_once(
    stack: Stack,
) -> None:
    workflow = signature_workflow("clicksign", [first_signer("clicksign"), SECOND_SIGNER])
    execution_id = await stack.run(workflow)
    request = await stack.paused(execution_id)
    assert request.provider_document_id == CLICKSIGN_DOCUMENT_KEY
    assert request.status == "pending"

    stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
    body = raw("clicksign_sign.json")
    response = await stack.post_clicksign(body, "sign", clicksign_vector("clicksign_sign.json"))
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "accepted"
    await stack.applied(1)
    after_first = await stack.request_of(execution_id)
    assert [s.status for s in after_first.signers] == [SignerStatus.SIGNED, SignerStatus.PENDING]
    assert (await wait_for_status(stack.resources, execution_id, "paused")).status == "paused"

    second_id = stack.clicksign.sign(CLICKSIGN_DOCUMENT_KEY, SECOND_SIGNER["email"])
    second = clicksign_event(
        "sign",
        signer_key=second_id,
        signer_email=SECOND_SIGNER["email"],
        occurred_at="2030-01-01T10:00:00-03:00",
    )
    assert (await stack.post_clicksign(second, "sign")).status == 200
    done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error

    assert await stack.resumes(execution_id) == 1
    assert await stack.step_runs(execution_id, "after") == 1
    # The resume latency is measured from the last signer's webhook, once.
    registry = stack.resources.metrics.registry
    latency = {"kind": "signature"}
    assert registry.get_sample_value("docflow_resume_latency_seconds_count", latency) == 1
    assert 0 < (registry.get_sample_value("docflow_resume_latency_seconds_sum", latency) or 0) < 10
    expected = signed_pdf(CLICKSIGN_DOCUMENT_KEY)
    context = done.context
    signed = context["signature_requests"]["sign"]["signed_document"]
    assert signed["sha256"] == hashlib.sha256(expected).hexdigest()
    assert signed["size"] == len(expected)
    assert context["generated_documents"][-1]["id"] == signed["id"]
    assert context["node_outputs"]["after"] == {"outcome": "signed", "documents": 1}
    assert len(stack.clicksign.calls_to("POST", "/api/v3/envelopes")) == 1

    detail = await stack.detail(execution_id)
    [shown] = detail["signature_requests"]
    assert shown["status"] == "signed"
    assert [(s["email"], s["status"]) for s in shown["signers"]] == [
        (CLICKSIGN_SIGNER_EMAIL, "signed"),
        (SECOND_SIGNER["email"], "signed"),
    ]
    download = await stack.gateway.client.get(
        shown["signed_document"]["url"], headers=stack.gateway.auth
    )
    assert download.status == 200
    assert await download.read() == expected
    assert download.headers["ETag"] == f'"{signed["sha256"]}"'


async def test_one_signer_runs_to_completion_on_both_backends(
    settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> None:
    """The same code in `docflow dev` (SQLite, in-process broker) as on PostgreSQL/RabbitMQ."""
    async with running_stack(settings, clicksign, zapsign) as stack:
        execution_id = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
        await stack.paused(execution_id)
        clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
        vector = clicksign_vector("clicksign_sign.json")
        assert (
            await stack.post_clicksign(raw("clicksign_sign.json"), "sign", vector)
        ).status == 200
        done = await wait_for_status(stack.resources, execution_id, "completed", "failed")
        assert done.status == "completed", done.error
        assert await stack.resumes(execution_id) == 1
        signed = done.context["signature_requests"]["sign"]["signed_document"]
        assert signed["sha256"] == hashlib.sha256(signed_pdf(CLICKSIGN_DOCUMENT_KEY)).hexdigest()

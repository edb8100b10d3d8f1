"""A run that ends while its signature request is open — cancelled, failed, or its wait expired
with `on_timeout: fail` — has the request cancelled at the provider, once: retried with
back-off on 429 and 5xx, recorded when the provider refuses, and the provider's own later
`cancel` changes nothing."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.esign.model import RequestStatus
from shared.esign.store import RequestRow
from shared.settings import Settings
from tests.signatures.accounts import reload, scheduler_pass
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import Stack, first_signer, running_stack, signature_workflow
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    ZAPSIGN_DOC_TOKEN,
    raw,
    zapsign_event,
)
from tests.support import eventually, wait_for_status


@pytest.fixture
async def quick(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> AsyncIterator[Stack]:
    """Gateway and executor; the tests run the scheduler's duties themselves, pass by pass."""
    async with running_stack(
        pg_settings, clicksign, zapsign, signature_cancel_retry_initial_seconds=0.2
    ) as running:
        yield running


def _fake(stack: Stack, provider: str) -> FakeClickSign | FakeZapSign:
    return stack.clicksign if provider == "clicksign" else stack.zapsign


async def _settled(stack: Stack, request_id: uuid.UUID) -> RequestRow:
    """Scheduler passes until the request's cancellation has an outcome."""

    async def one_pass() -> RequestRow:
        await scheduler_pass(stack)
        return await reload(stack, request_id)

    return await eventually(one_pass, lambda r: r.cancel_outcome is not None, interval=0.1)


async def _request_view(stack: Stack, execution_id: uuid.UUID) -> dict[str, Any]:
    detail = await stack.detail(execution_id)
    [view] = detail["signature_requests"]
    assert isinstance(view, dict)
    return view


async def _cancel(stack: Stack, execution_id: uuid.UUID) -> None:
    response = await stack.gateway.client.post(
        f"/api/v1/executions/{execution_id}/cancel", headers=stack.gateway.auth
    )
    assert response.status < 300, await response.text()
    await wait_for_status(stack.resources, execution_id, "cancelled")


@pytest.mark.parametrize("provider", ["clicksign", "zapsign"])
async def test_cancelling_the_run_cancels_the_request_at_the_provider_once(
    quick: Stack, provider: str
) -> None:
    stack = quick
    run = await stack.run(signature_workflow(provider, [first_signer(provider)]))
    request = await stack.paused(run)
    await _cancel(stack, run)

    # Marked in the transaction that ended the run, before the provider heard of it.
    view = await _request_view(stack, run)
    assert view["status"] == "cancelled"
    assert view["cancellation"]["requested_at"] is not None
    assert view["cancellation"]["outcome"] is None

    after = await _settled(stack, request.id)
    for _ in range(3):
        await scheduler_pass(stack)
    assert _fake(stack, provider).cancels() == 1
    assert (after.cancel_outcome, after.cancel_attempts) == ("cancelled", 1)
    assert after.cancelled_at is not None and after.cancel_answer is not None
    view = await _request_view(stack, run)
    assert view["status"] == "cancelled"
    assert view["cancellation"]["outcome"] == "cancelled"
    assert view["cancellation"]["cancelled_at"] is not None
    if provider == "clicksign":
        [envelope] = stack.clicksign.envelopes.values()
        assert envelope.status == "canceled"
    else:
        assert stack.zapsign.docs[ZAPSIGN_DOC_TOKEN]["status"] == "refused"


async def test_the_providers_own_cancel_webhook_afterwards_changes_nothing(quick: Stack) -> None:
    stack = quick
    run = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    request = await stack.paused(run)
    await _cancel(stack, run)
    before = await _settled(stack, request.id)

    posted = await stack.post_clicksign(raw("clicksign_cancel.json"), "cancel")
    assert (await posted.json())["status"] == "accepted"
    await stack.applied(1)
    after = await reload(stack, request.id)
    assert (after.status, after.reason, after.signers) == (
        before.status,
        before.reason,
        before.signers,
    )
    assert (await wait_for_status(stack.resources, run, "cancelled")).status == "cancelled"
    assert stack.clicksign.cancels() == 1


async def test_a_run_failing_with_its_envelope_half_set_up_cancels_it_once(quick: Stack) -> None:
    stack = quick
    stack.clicksign.fail_next("notify", 422)
    run = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    failed = await wait_for_status(stack.resources, run, "failed", "paused")
    assert failed.status == "failed"
    request = await stack.request_of(run)
    assert request.provider_request_id is not None
    assert request.status == RequestStatus.CANCELLED

    after = await _settled(stack, request.id)
    await scheduler_pass(stack)
    assert (after.cancel_outcome, stack.clicksign.cancels()) == ("cancelled", 1)
    [envelope] = stack.clicksign.envelopes.values()
    assert envelope.status == "canceled"


@pytest.mark.parametrize("provider", ["clicksign", "zapsign"])
async def test_a_wait_expiring_with_on_timeout_fail_cancels_the_request_once(
    quick: Stack, provider: str
) -> None:
    stack = quick
    definition = signature_workflow(
        provider, [first_signer(provider)], expires_in=1, on_timeout="fail"
    )
    run = await stack.run(definition)
    request = await stack.paused(run)

    async def expired() -> str:
        await scheduler_pass(stack)
        return (await wait_for_status(stack.resources, run, "paused", "failed")).status

    await eventually(expired, lambda status: status == "failed", interval=0.2)
    after = await _settled(stack, request.id)
    for _ in range(3):
        await scheduler_pass(stack)
    assert _fake(stack, provider).cancels() == 1
    assert (after.status, after.cancel_outcome) == (RequestStatus.EXPIRED, "cancelled")


async def test_a_wait_expiring_with_on_timeout_continue_leaves_the_request_alone(
    quick: Stack,
) -> None:
    stack = quick
    definition = signature_workflow(
        "clicksign", [first_signer("clicksign")], expires_in=1, on_timeout="continue"
    )
    run = await stack.run(definition)
    request = await stack.paused(run)

    async def finished() -> str:
        await scheduler_pass(stack)
        return (await wait_for_status(stack.resources, run, "paused", "completed", "failed")).status

    assert await eventually(finished, lambda s: s != "paused", interval=0.2) == "completed"
    for _ in range(3):
        await scheduler_pass(stack)
    assert stack.clicksign.cancels() == 0
    assert (await reload(stack, request.id)).cancel_requested_at is None


async def test_a_provider_answering_503_and_429_is_asked_again_after_a_back_off(
    quick: Stack,
) -> None:
    stack = quick
    run = await stack.run(signature_workflow("zapsign", [first_signer("zapsign")]))
    request = await stack.paused(run)
    stack.zapsign.fail_next("cancel", 503, 429)
    await _cancel(stack, run)

    await scheduler_pass(stack)
    first = await reload(stack, request.id)
    assert (first.cancel_outcome, first.cancel_attempts) == (None, 1)
    assert first.cancel_answer is not None and first.cancel_answer["status"] == 503
    # Not before its back-off: an immediate pass asks nothing.
    await scheduler_pass(stack)
    assert stack.zapsign.cancels() == 1

    after = await _settled(stack, request.id)
    assert (after.cancel_outcome, after.cancel_attempts, stack.zapsign.cancels()) == (
        "cancelled",
        3,
        3,
    )
    registry = stack.resources.metrics.registry
    tries = {
        outcome: registry.get_sample_value(
            "docflow_signature_cancels_total", {"provider": "zapsign", "outcome": outcome}
        )
        for outcome in ("deferred", "cancelled")
    }
    assert tries == {"deferred": 2.0, "cancelled": 1.0}


async def test_a_cancellation_the_provider_refuses_is_recorded_and_not_asked_again(
    quick: Stack,
) -> None:
    stack = quick
    run = await stack.run(signature_workflow("clicksign", [first_signer("clicksign")]))
    request = await stack.paused(run)
    # Closed at ClickSign meanwhile (its webhook not in yet): it cannot be cancelled.
    stack.clicksign.close(CLICKSIGN_DOCUMENT_KEY)
    await _cancel(stack, run)

    after = await _settled(stack, request.id)
    for _ in range(3):
        await scheduler_pass(stack)
    assert (after.cancel_outcome, after.cancelled_at, stack.clicksign.cancels()) == (
        "refused",
        None,
        1,
    )
    assert after.cancel_answer is not None and after.cancel_answer["status"] == 422
    view = await _request_view(stack, run)
    assert view["cancellation"]["outcome"] == "refused"
    assert "closed" in view["cancellation"]["answer"]["error"]


async def test_a_zapsign_webhook_after_the_cancel_changes_nothing(quick: Stack) -> None:
    stack = quick
    run = await stack.run(signature_workflow("zapsign", [first_signer("zapsign")]))
    request = await stack.paused(run)
    await _cancel(stack, run)
    await _settled(stack, request.id)
    posted = await stack.post_zapsign(zapsign_event("doc_refused", token=ZAPSIGN_DOC_TOKEN))
    assert (await posted.json())["status"] == "accepted"
    await stack.applied(1)
    after = await reload(stack, request.id)
    assert after.status == RequestStatus.CANCELLED
    assert [s.status for s in after.signers] == ["pending"]


async def test_a_run_cancelled_while_its_document_is_being_created_cancels_it_once_created(
    quick: Stack,
) -> None:
    stack = quick
    create = stack.zapsign.hold("create")
    run = await stack.run(signature_workflow("zapsign", [first_signer("zapsign")]))
    await asyncio.wait_for(create.reached.wait(), 20)
    await _cancel(stack, run)
    request = await stack.request_of(run)
    first = await _settled(stack, request.id)
    # Nothing at ZapSign yet that anyone could sign.
    assert (first.cancel_outcome, stack.zapsign.cancels()) == ("nothing_to_cancel", 0)

    create.release.set()
    created = await eventually(
        lambda: reload(stack, request.id), lambda r: r.provider_document_id is not None
    )
    assert created.status == RequestStatus.CANCELLED
    after = await _settled(stack, request.id)
    for _ in range(2):
        await scheduler_pass(stack)
    assert (after.cancel_outcome, stack.zapsign.cancels()) == ("cancelled", 1)
    assert stack.zapsign.docs[ZAPSIGN_DOC_TOKEN]["status"] == "refused"
    assert (await wait_for_status(stack.resources, run, "cancelled")).status == "cancelled"

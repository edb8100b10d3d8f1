"""kill -9 of a real executor process right after it ended a run whose signature request was
open (cancelled, failed, or expired with `on_timeout: fail`), before anyone asked the provider
to cancel it: two scheduler processes later cancel it at the provider exactly once."""

import signal
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from services.scheduler.timers import fire_due_waits
from shared.broker.topology import RUN
from shared.db.tables import SignatureRequest
from shared.esign import store
from shared.messages import CancelExecution
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.processes import executor_processes, spawn, stop
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import first_signer, provider_settings, signature_workflow
from tests.support import eventually, seed_workflow, start_execution, wait_for_status

pytestmark = pytest.mark.slow


async def _request(resources: Resources, execution_id: uuid.UUID) -> store.RequestRow:
    async with resources.engine.connect() as conn:
        request_id = await conn.scalar(
            select(SignatureRequest.id).where(SignatureRequest.execution_id == execution_id)
        )
        assert request_id is not None
        request = await store.load(conn, request_id)
    assert request is not None
    return request


async def _end(resources: Resources, execution_id: uuid.UUID, ending: str) -> None:
    """End the run the way `ending` says, by the executor process; wait until it has."""
    if ending == "fail":
        # The fake refused to notify the signers: the node fails with the envelope set up.
        failed = await wait_for_status(resources, execution_id, "failed", "paused", within=60)
        assert failed.status == "failed"
        return
    paused = await wait_for_status(resources, execution_id, "paused", "failed", within=60)
    assert paused.status == "paused", paused.error
    if ending == "cancel":
        # What the gateway does for POST /executions/{id}/cancel.
        await resources.broker.publish(RUN, CancelExecution(execution_id=execution_id))
        await wait_for_status(resources, execution_id, "cancelled", within=60)
        return

    async def expired() -> str:
        # The scheduler's timer duty, in this process: the executor decides the expiry.
        await fire_due_waits(resources, batch=10)
        return (await wait_for_status(resources, execution_id, "paused", "failed")).status

    await eventually(expired, lambda status: status == "failed", within=30, interval=0.2)


@pytest.mark.parametrize("ending", ["cancel", "fail", "expire"])
async def test_the_envelope_is_cancelled_once_after_the_executor_that_ended_the_run_was_killed(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign, ending: str
) -> None:
    settings = provider_settings(pg_settings, clicksign, zapsign).model_copy(
        update={"lease_seconds": 2.0, "signature_cancel_retry_initial_seconds": 0.2}
    )
    config: dict[str, Any] = {}
    if ending == "expire":
        config = {"expires_in": 2, "on_timeout": "fail"}
    if ending == "fail":
        clicksign.fail_next("notify", 422)
    async with open_resources(settings) as resources:
        workflow = signature_workflow("clicksign", [first_signer("clicksign")], **config)
        workspace_id, workflow_id = await seed_workflow(resources, workflow)
        async with executor_processes(settings, 1) as (doomed,):
            execution_id = await start_execution(
                resources, workspace_id, workflow_id, {"deal": "42"}
            )
            await _end(resources, execution_id, ending)
            await stop(doomed, signal.SIGKILL)
        marked = await _request(resources, execution_id)
        assert marked.cancel_requested_at is not None and marked.cancel_outcome is None
        assert clicksign.cancels() == 0

        schedulers = [await spawn(settings, "scheduler") for _ in range(2)]
        try:
            done = await eventually(
                lambda: _request(resources, execution_id),
                lambda r: r.cancel_outcome is not None,
                within=60,
            )
        finally:
            # SIGTERM lets each finish its pass: any further call would be counted by now.
            for process in schedulers:
                await stop(process)
        assert (done.cancel_outcome, done.cancel_attempts) == ("cancelled", 1)
        assert clicksign.cancels() == 1
        [envelope] = clicksign.envelopes.values()
        assert envelope.status == "canceled"

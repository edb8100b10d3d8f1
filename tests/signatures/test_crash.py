"""kill -9 of a real executor process while its signature node is between creating the
provider request and checkpointing the pause: the next executor reuses that request."""

import asyncio
import signal
import uuid

import pytest
from sqlalchemy import text

from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.gateway.conftest import running_gateway
from tests.processes import executor_processes, spawn, stop
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import (
    SECOND_SIGNER,
    Stack,
    first_signer,
    provider_settings,
    signature_workflow,
)
from tests.signatures.providers import (
    CLICKSIGN_DOCUMENT_KEY,
    CLICKSIGN_SIGNER_EMAIL,
    ZAPSIGN_DOC_TOKEN,
    ZAPSIGN_SIGNER_EMAIL,
    clicksign_event,
    clicksign_vector,
    raw,
)
from tests.support import eventually, seed_workflow, start_execution, steps_of, wait_for_status

pytestmark = pytest.mark.slow


async def _recovered(settings: Settings, resources: Resources, execution_id: uuid.UUID) -> None:
    """A scheduler fences the dead worker's lease; a fresh executor re-runs the node."""
    scheduler = await spawn(settings, "scheduler")
    try:
        async with executor_processes(settings, 1):
            paused = await wait_for_status(resources, execution_id, "paused", "failed", within=60)
            assert paused.status == "paused", paused.error
    finally:
        await stop(scheduler)


async def test_zapsign_kill_9_after_the_document_was_created_reuses_it_on_the_re_run(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> None:
    settings = provider_settings(pg_settings, clicksign, zapsign).model_copy(
        update={"lease_seconds": 2.0}
    )
    create = zapsign.hold("create")
    async with open_resources(settings) as resources:
        workflow = signature_workflow("zapsign", [first_signer("zapsign")])
        workspace_id, workflow_id = await seed_workflow(resources, workflow)
        async with executor_processes(settings, 1) as (doomed,):
            execution_id = await start_execution(
                resources, workspace_id, workflow_id, {"deal": "42"}
            )
            await asyncio.wait_for(create.reached.wait(), 30)
            # Holding the execution row keeps the pause's checkpoint from committing.
            async with resources.engine.connect() as lock:
                await lock.execute(
                    text("SELECT 1 FROM executions WHERE id = :id FOR NO KEY UPDATE"),
                    {"id": execution_id},
                )
                create.release.set()
                request = await eventually(
                    lambda: Stack.request_of(_stack(resources), execution_id),
                    lambda r: r.status == "pending",
                )
                assert request.provider_request_id == ZAPSIGN_DOC_TOKEN
                await stop(doomed, signal.SIGKILL)
                await lock.rollback()
        assert (await wait_for_status(resources, execution_id, "running")).status == "running"

        await _recovered(settings, resources, execution_id)

        assert len(zapsign.calls_to("POST", "/api/v1/docs/")) == 1
        again = await Stack.request_of(_stack(resources), execution_id)
        assert (again.id, again.wait_id, again.generation) == (
            request.id,
            request.wait_id,
            1,
        )
        steps = [(s.node_id, s.attempt, s.status) for s in await steps_of(resources, execution_id)]
        assert ("sign", 1, "interrupted") in steps and ("sign", 2, "waiting") in steps

        # And the reused request still resumes the run.
        async with running_gateway(resources) as gateway:
            stack = Stack(resources, gateway, clicksign, zapsign)
            zapsign.sign(ZAPSIGN_DOC_TOKEN, ZAPSIGN_SIGNER_EMAIL)
            assert (await stack.post_zapsign(raw("zapsign_doc_signed.json"))).status == 200
            async with executor_processes(settings, 1, "signatures.events"):
                done = await wait_for_status(resources, execution_id, "completed", "failed")
        assert done.status == "completed", done.error


async def test_clicksign_kill_9_mid_setup_finishes_the_same_envelope_on_the_re_run(
    pg_settings: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign
) -> None:
    settings = provider_settings(pg_settings, clicksign, zapsign).model_copy(
        update={"lease_seconds": 2.0}
    )
    activate = clicksign.hold("activate")
    async with open_resources(settings) as resources:
        signers = [first_signer("clicksign"), SECOND_SIGNER]
        workspace_id, workflow_id = await seed_workflow(
            resources, signature_workflow("clicksign", signers)
        )
        async with executor_processes(settings, 1) as (doomed,):
            execution_id = await start_execution(
                resources, workspace_id, workflow_id, {"deal": "42"}
            )
            # Envelope, document, signers and requirements are in; activation is in flight.
            await asyncio.wait_for(activate.reached.wait(), 30)
            await stop(doomed, signal.SIGKILL)
        del clicksign.holds["activate"]
        activate.release.set()

        await _recovered(settings, resources, execution_id)

        assert len(clicksign.envelopes) == 1
        [envelope] = clicksign.envelopes.values()
        assert list(envelope.documents) == [CLICKSIGN_DOCUMENT_KEY]
        assert len(envelope.signers) == 2
        assert len(clicksign.calls_to("POST", "/documents")) == 1
        assert len(clicksign.calls_to("POST", "/signers")) == 2
        assert len(clicksign.calls_to("POST", "/requirements")) == 4
        assert len(clicksign.calls_to("PATCH", f"/envelopes/{envelope.id}")) == 2
        assert (envelope.status, envelope.notifications) == ("running", 1)

        async with running_gateway(resources) as gateway:
            stack = Stack(resources, gateway, clicksign, zapsign)
            clicksign.sign(CLICKSIGN_DOCUMENT_KEY, CLICKSIGN_SIGNER_EMAIL)
            second_id = clicksign.sign(CLICKSIGN_DOCUMENT_KEY, SECOND_SIGNER["email"])
            vector = clicksign_vector("clicksign_sign.json")
            await stack.post_clicksign(raw("clicksign_sign.json"), "sign", vector)
            second = clicksign_event(
                "sign", signer_key=second_id, signer_email=SECOND_SIGNER["email"]
            )
            await stack.post_clicksign(second, "sign")
            async with executor_processes(settings, 1, "signatures.events"):
                done = await wait_for_status(resources, execution_id, "completed", "failed")
        assert done.status == "completed", done.error


def _stack(resources: Resources) -> Stack:
    """Enough of a Stack to read rows with (no gateway, no fakes needed)."""
    return Stack(resources, None, None, None)  # type: ignore[arg-type]  # only request_of is used

"""A document node re-run after a crash reuses what it produced: no second copy."""

import asyncio
import re
import signal

import aiohttp
import pytest
from sqlalchemy import func, select

from services.executor.nodes.base import Completed, NodeCall, NodeServices
from services.executor.nodes.word import WordNode
from services.executor.worker import ExecutorWorker
from shared.connections.crypto import new_secret_key
from shared.context import ExecutionContext
from shared.db.tables import Document
from shared.nodes.documents import MicrosoftWordConfig
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.documents.builders import DEAL, docx_template
from tests.documents.fakes import FakeGoogle
from tests.documents.support import add_google, add_template, run_to_end, seed
from tests.documents.test_google import COPY_ID, DOCS_NODE, KEY, TRIGGER
from tests.documents.test_word import CONTRACT
from tests.processes import executor_processes, spawn, stop
from tests.support import eventually, start_execution, steps_of, wait_for_status


@pytest.mark.slow
async def test_kill_9_mid_export_then_a_rerun_uses_the_same_drive_copy_and_document(
    pg_settings: Settings, google: FakeGoogle, google_key: KEY
) -> None:
    settings = pg_settings.model_copy(update={"lease_seconds": 2.0, "secret_key": new_secret_key()})
    # Exports hang until the gate opens: the first executor dies after Drive made the copy
    # and the document recorded it, before the PDF came back.
    google.export_gate = asyncio.Event()
    async with open_resources(settings) as resources:
        workspace_id, workflow_id = await seed(resources, DOCS_NODE)
        await add_google(resources, workspace_id, google, google_key[0])
        async with executor_processes(settings, 1) as (doomed,):
            execution_id = await start_execution(resources, workspace_id, workflow_id, TRIGGER)
            await eventually(
                lambda: _count(google, r"/drive/v3/files/.*/export"), lambda n: n == 1, within=30
            )
            await stop(doomed, signal.SIGKILL)
        google.export_gate.set()
        scheduler = await spawn(settings, "scheduler")
        try:
            async with executor_processes(settings, 1):
                done = await wait_for_status(
                    resources, execution_id, "completed", "failed", within=40
                )
        finally:
            await stop(scheduler)

        assert done.status == "completed", done.error
        assert google.copies == 1
        # Replacing again on the copy is harmless; a second copy would not be.
        assert await _count(google, r"/v1/documents/.*:batchUpdate") >= 2
        async with resources.sessions() as session:
            [document] = (await session.scalars(select(Document))).all()
        assert (document.status, document.provider_ids["google"]["file_id"]) == ("ready", COPY_ID)
        assert done.context["node_outputs"]["letter"]["document"]["id"] == str(document.id)
        steps = await steps_of(resources, execution_id)
        attempts = [(s.attempt, s.status) for s in steps if s.node_id == "letter"]
        assert attempts[0] == (1, "interrupted") and attempts[-1][1] == "completed"


async def _count(google: FakeGoogle, pattern: str) -> int:
    return len([c for c in google.calls if re.fullmatch(pattern, c.path)])


async def test_a_word_node_run_again_after_its_document_was_saved_returns_that_document(
    resources: Resources, executor: ExecutorWorker
) -> None:
    """What a re-run finds when the first attempt died after saving, before its checkpoint."""
    workspace_id, workflow_id = await seed(resources, CONTRACT)
    await add_template(resources, workspace_id, "contract", "c.docx", docx_template())
    done = await run_to_end(resources, workspace_id, workflow_id, {"deal": DEAL})
    assert done.status == "completed", done.error
    first = done.context["node_outputs"]["contract"]["document"]
    before = {
        **done.context,
        "generated_documents": [],
        "node_outputs": {k: v for k, v in done.context["node_outputs"].items() if k != "contract"},
    }

    async with aiohttp.ClientSession() as http:
        call = NodeCall(
            execution_id=done.id, workflow_id=workflow_id, workspace_id=workspace_id,
            node_id="contract", attempt=2,
            config=MicrosoftWordConfig.model_validate(CONTRACT["config"]),
            context=ExecutionContext.model_validate(before), trigger_data={},
            services=NodeServices(resources.settings, http, resources.engine),
        )  # fmt: skip
        again = await WordNode().run(call)

    assert isinstance(again, Completed)
    assert again.output["document"] == first
    async with resources.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 1

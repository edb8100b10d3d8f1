"""A document node killed mid-way is re-run by another executor without a second copy."""

import asyncio
import re
import signal

import pytest
from sqlalchemy import select

from shared.connections.crypto import new_secret_key
from shared.db.tables import Document
from shared.runtime import open_resources
from shared.settings import Settings
from tests.documents.fakes import FakeGoogle
from tests.documents.support import add_google, seed
from tests.documents.test_google import COPY_ID, DOCS_NODE, KEY, TRIGGER
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

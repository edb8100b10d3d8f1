"""Seeding workspaces with templates and connections, and running document workflows."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from services.executor.worker import ExecutorWorker
from shared.connections import create_connection
from shared.connections.crypto import Sealer
from shared.db.tables import Execution
from shared.documents import DocumentMeta, TemplateInfo, add_template_version, load_document
from shared.runtime import Resources
from tests.documents.fakes import FakeGoogle, FakeGraph
from tests.support import seed_workflow, start_execution, wait_for_status

MAILBOX = "contracts@contoso.com"


async def seed(resources: Resources, *nodes: dict[str, Any]) -> tuple[uuid.UUID, uuid.UUID]:
    """A workspace and a workflow: a trigger, then `nodes` in order."""
    listed = [{"id": "start", "type": "trigger", "position": 0, "config": {}}]
    listed += [{**node, "position": i + 1} for i, node in enumerate(nodes)]
    return await seed_workflow(resources, {"name": "documents", "nodes": listed})


async def add_template(
    resources: Resources, workspace_id: uuid.UUID, name: str, filename: str, data: bytes
) -> TemplateInfo:
    async with resources.sessions.begin() as session:
        return await add_template_version(
            session, workspace_id, name=name, filename=filename, data=data
        )


async def add_connection(
    resources: Resources, workspace_id: uuid.UUID, name: str, kind: str, config: dict[str, Any]
) -> None:
    sealer = Sealer(resources.settings.secret_key)
    async with resources.sessions.begin() as session:
        await create_connection(session, sealer, workspace_id, name=name, kind=kind, config=config)


async def add_microsoft(
    resources: Resources, workspace_id: uuid.UUID, graph: FakeGraph, name: str = "m365"
) -> None:
    config = {
        "tenant_id": "contoso-tenant",
        "client_id": "docflow-app",
        "client_secret": "s3cret",
        "user": MAILBOX,
        "graph_base_url": graph.graph_base_url,
        "login_base_url": graph.url,
    }
    await add_connection(resources, workspace_id, name, "microsoft", config)


async def add_google(
    resources: Resources, workspace_id: uuid.UUID, google: FakeGoogle, info: dict[str, Any],
    name: str = "gdrive",
) -> None:  # fmt: skip
    config = {
        "service_account_info": info,
        "token_url": google.token_url,
        "drive_base_url": google.url,
        "docs_base_url": google.url,
        "slides_base_url": google.url,
        "folder_id": "FOLDER_ID_FILLED",
    }
    await add_connection(resources, workspace_id, name, "google", config)


async def run_to_end(
    resources: Resources,
    workspace_id: uuid.UUID,
    workflow_id: uuid.UUID,
    trigger_data: dict[str, Any],
    within: float = 30.0,
) -> Execution:
    execution_id = await start_execution(resources, workspace_id, workflow_id, trigger_data)
    return await wait_for_status(resources, execution_id, "completed", "failed", within=within)


async def stored(
    resources: Resources, workspace_id: uuid.UUID, document_id: str
) -> tuple[DocumentMeta, bytes]:
    async with resources.sessions() as session:
        return await load_document(session, workspace_id, uuid.UUID(document_id))


@contextlib.asynccontextmanager
async def running_executor(resources: Resources) -> AsyncIterator[ExecutorWorker]:
    worker = ExecutorWorker(resources)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()

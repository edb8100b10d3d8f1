"""The API key's workspace: its id (the HubSpot target URL needs it) and every URL to give
the systems that call DocFlow."""

import uuid

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.common.routing import API_PREFIX
from services.gateway.hooks.api import HOOK
from services.gateway.hooks.hubspot import PATH as HUBSPOT_PATH
from services.gateway.keys import RESOURCES, workspace_of
from services.gateway.signatures.webhooks import webhook_url
from services.gateway.workspace.schemas import (
    SignatureWebhook,
    WorkflowHook,
    WorkspaceUrls,
    WorkspaceView,
)
from shared.connections import list_connections
from shared.db.tables import Workflow, Workspace
from shared.esign.accounts import PROVIDER_KINDS

PATH = f"{API_PREFIX}/workspace"


async def show(request: web.Request) -> web.Response:
    resources = request.app[RESOURCES]
    async with resources.sessions() as session:
        view = await workspace_view(
            session, workspace_of(request), resources.settings.public_url.rstrip("/")
        )
    return web.json_response(view.model_dump(mode="json"))


async def workspace_view(
    session: AsyncSession, workspace_id: uuid.UUID, base: str
) -> WorkspaceView:
    workspace = await session.get(Workspace, workspace_id)
    # The key was just authenticated, so its workspace exists.
    assert workspace is not None
    workflows = (
        await session.execute(
            select(Workflow.id, Workflow.name)
            .where(Workflow.workspace_id == workspace_id)
            .order_by(Workflow.name, Workflow.created_at)
        )
    ).all()
    connections = [
        c for c in await list_connections(session, workspace_id) if c.kind in PROVIDER_KINDS
    ]
    urls = WorkspaceUrls(
        api=base + API_PREFIX,
        hubspot_webhook=base + HUBSPOT_PATH.format(workspace_id=workspace_id),
        workflow_hooks=[
            WorkflowHook(
                workflow_id=w.id, workflow_name=w.name, url=base + HOOK.format(workflow_id=w.id)
            )
            for w in workflows
        ],
        signature_webhooks=[
            SignatureWebhook(
                connection_id=c.id,
                connection_name=c.name,
                provider=c.kind,
                url=webhook_url(base, c.kind, c.id),
            )
            for c in connections
        ],
    )
    return WorkspaceView(id=workspace.id, name=workspace.name, urls=urls)

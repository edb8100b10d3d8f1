"""What `GET /api/v1/workspace` answers."""

import uuid

from pydantic import BaseModel


class WorkflowHook(BaseModel):
    workflow_id: uuid.UUID
    workflow_name: str
    #: Standard Webhooks that start this workflow (its secret: `/workflows/{id}/hook-secret`).
    url: str


class SignatureWebhook(BaseModel):
    connection_id: uuid.UUID
    connection_name: str
    provider: str
    #: What to register at the provider for this connection's account.
    url: str


class WorkspaceUrls(BaseModel):
    #: The API's base.
    api: str
    #: The HubSpot app's webhook target URL for this workspace.
    hubspot_webhook: str
    workflow_hooks: list[WorkflowHook]
    signature_webhooks: list[SignatureWebhook]


class WorkspaceView(BaseModel):
    id: uuid.UUID
    name: str
    urls: WorkspaceUrls

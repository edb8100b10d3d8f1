"""Helpers for trigger tests: workflows, connections, signed HubSpot deliveries, run counts."""

import uuid
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import func, select

from shared.db.tables import Execution
from shared.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_v3
from shared.runtime import Resources
from tests.gateway.conftest import Gateway
from tests.triggers.conftest import PUBLIC_URL

CLIENT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


def hubspot_workflow(
    *, connection: str = "crm", subscription: str = "propertyChange", **extra: Any
) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "source": "hubspot",
        "connection": connection,
        "object_type": "deal",
        "subscription_type": subscription,
        **extra,
    }
    return {
        "name": "deal won",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": trigger},
            {
                "id": "note",
                "type": "set",
                "position": 1,
                "config": {"values": {"deal": "{{ source.deal.dealname }}"}},
            },
        ],
    }


async def add_hubspot_connection(
    gateway: Gateway,
    *,
    name: str = "crm",
    base_url: str = "http://127.0.0.1:9",
    secret: str = CLIENT_SECRET,
) -> None:
    response = await gateway.client.post(
        "/api/v1/connections",
        json={
            "name": name,
            "kind": "hubspot",
            "config": {"access_token": "pat-test", "client_secret": secret, "base_url": base_url},
        },
        headers=gateway.auth,
    )
    assert response.status == 201, await response.text()


def hubspot_path(workspace_id: uuid.UUID) -> str:
    return f"/api/v1/webhooks/hubspot/{workspace_id}"


def signature_for(gateway: Gateway, body: bytes, at: int, secret: str = CLIENT_SECRET) -> str:
    """What HubSpot sends for `body`, signed over the public URL it was configured with."""
    uri = PUBLIC_URL + hubspot_path(gateway.workspace_id)
    return signature_v3(secret, "POST", uri, body, str(at))


async def deliver(
    gateway: Gateway,
    body: bytes,
    *,
    timestamp: int,
    secret: str = CLIENT_SECRET,
    signature: str | None = None,
    workspace_id: uuid.UUID | None = None,
) -> ClientResponse:
    """POST the body the way HubSpot does, signed over the public URL it was configured with."""
    path = hubspot_path(workspace_id or gateway.workspace_id)
    signed = signature or signature_v3(secret, "POST", PUBLIC_URL + path, body, str(timestamp))
    return await gateway.client.post(
        path,
        data=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signed,
            TIMESTAMP_HEADER: str(timestamp),
        },
    )


async def runs_of(resources: Resources, workflow_id: str) -> list[Execution]:
    async with resources.sessions() as session:
        rows = await session.scalars(
            select(Execution).where(Execution.workflow_id == uuid.UUID(workflow_id))
        )
        return list(rows)


async def execution_count(resources: Resources) -> int:
    async with resources.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Execution)) or 0)

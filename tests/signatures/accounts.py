"""Workspaces with their own ClickSign and ZapSign accounts: each a fake provider behind its
own base URL and token, registered as the workspace's `clicksign` / `zapsign` connections."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import update

from services.scheduler.worker import Scheduler
from shared.db.tables import SignatureRequest
from shared.db.types import utcnow
from shared.esign import store
from shared.esign.store import RequestRow
from tests.gateway.conftest import Gateway
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.harness import Stack
from tests.signatures.providers import clicksign_headers

#: The connection name every workspace gives its accounts: the same name in each workspace.
CLICKSIGN_CONNECTION = "esign-cs"
ZAPSIGN_CONNECTION = "esign-zs"
ZAPSIGN_HEADER = "X-DocFlow-Webhook-Secret"


@dataclass
class Workspace:
    name: str
    gateway: Gateway
    clicksign: FakeClickSign
    zapsign: FakeZapSign
    clicksign_connection: dict[str, Any]
    zapsign_connection: dict[str, Any]

    @property
    def clicksign_secret(self) -> str:
        return f"clicksign-hmac-secret-of-{self.name}"

    @property
    def zapsign_secret(self) -> str:
        return f"zapsign-header-secret-of-{self.name}"

    async def post_clicksign(
        self, body: bytes, event: str, *, secret: str | None = None, to: "Workspace | None" = None
    ) -> ClientResponse:
        """A ClickSign webhook to `to`'s connection URL (default ours), signed with `secret`
        (default ours)."""
        target = to or self
        return await self.gateway.client.post(
            f"/api/v1/webhooks/signature/clicksign/{target.clicksign_connection['id']}",
            data=body,
            headers=clicksign_headers(body, event, secret=secret or self.clicksign_secret),
        )

    async def post_zapsign(
        self, body: bytes, *, secret: str | None = None, to: "Workspace | None" = None
    ) -> ClientResponse:
        target = to or self
        return await self.gateway.client.post(
            f"/api/v1/webhooks/signature/zapsign/{target.zapsign_connection['id']}",
            data=body,
            headers={
                "Content-Type": "application/json",
                ZAPSIGN_HEADER: secret or self.zapsign_secret,
            },
        )


async def _connection(gateway: Gateway, name: str, kind: str, config: dict[str, Any]) -> Any:
    response = await gateway.client.post(
        "/api/v1/connections",
        json={"name": name, "kind": kind, "config": config},
        headers=gateway.auth,
    )
    assert response.status == 201, await response.text()
    return await response.json()


@contextlib.asynccontextmanager
async def workspace(stack: Stack, name: str) -> AsyncIterator[Workspace]:
    """A new workspace with its own ClickSign and ZapSign accounts (fakes of their own)."""
    gateway = await stack.gateway.as_workspace(name)
    clicksign = await FakeClickSign(token=f"clicksign-token-of-{name}").start()
    zapsign = await FakeZapSign(token=f"zapsign-token-of-{name}").start()
    assert isinstance(clicksign, FakeClickSign) and isinstance(zapsign, FakeZapSign)
    try:
        cs = await _connection(
            gateway,
            CLICKSIGN_CONNECTION,
            "clicksign",
            {
                "token": clicksign.token,
                "base_url": clicksign.url,
                "webhook_secret": f"clicksign-hmac-secret-of-{name}",
            },
        )
        zs = await _connection(
            gateway,
            ZAPSIGN_CONNECTION,
            "zapsign",
            {
                "token": zapsign.token,
                "base_url": zapsign.url,
                "webhook_secret": f"zapsign-header-secret-of-{name}",
            },
        )
        yield Workspace(name, gateway, clicksign, zapsign, cs, zs)
    finally:
        await clicksign.stop()
        await zapsign.stop()


async def run_in(ws: Workspace, definition: dict[str, Any], deal: str = "42") -> uuid.UUID:
    workflow = await ws.gateway.create_workflow(definition)
    accepted = await ws.gateway.start(workflow["id"], {"trigger_data": {"deal": deal}})
    return uuid.UUID(accepted["execution_id"])


async def scheduler_pass(stack: Stack) -> None:
    """Every scheduler duty once, in this process (timers, reconciliation, cancellations)."""
    await Scheduler(stack.resources, gauge_interval=None, stalled_resumes=False).run_once()


async def make_quiet(stack: Stack, request_id: uuid.UUID) -> None:
    """As if the request had heard nothing for a day: the next reconciliation polls it."""
    async with stack.resources.engine.begin() as conn:
        await conn.execute(
            update(SignatureRequest)
            .where(SignatureRequest.id == request_id)
            .values(last_activity_at=utcnow() - timedelta(days=1))
        )


async def reload(stack: Stack, request_id: uuid.UUID) -> RequestRow:
    async with stack.resources.engine.connect() as conn:
        request = await store.load(conn, request_id)
    assert request is not None
    return request

"""A running DocFlow (gateway, executor, optionally the scheduler) beside fake providers, and
the few things signature tests do with it: start a run, post a webhook, read rows."""

import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse
from sqlalchemy import func, select

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.db.tables import (
    ExecutionStep,
    ExecutionTransition,
    InboxEvent,
    SignatureRequest,
    Workflow,
    WorkflowVersion,
)
from shared.esign import store
from shared.esign.model import CreationState, RequestStatus, SignerSpec
from shared.esign.store import RequestRow
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway
from tests.signatures import fake_clicksign, fake_zapsign
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.fake_zapsign import FakeZapSign
from tests.signatures.providers import (
    CLICKSIGN_SECRET,
    CLICKSIGN_SIGNER_EMAIL,
    ZAPSIGN_SECRET,
    ZAPSIGN_SIGNER_EMAIL,
    clicksign_headers,
)
from tests.support import eventually, wait_for_status

CONTRACT = b"%PDF-1.4\n% the contract to sign\n%%EOF\n"
SECOND_SIGNER = {"name": "Beatriz Souza", "email": "beatriz@example.com"}
THIRD_SIGNER = {"name": "Carlos Lima", "email": "carlos@example.com"}


def provider_settings(base: Settings, clicksign: FakeClickSign, zapsign: FakeZapSign) -> Settings:
    return base.model_copy(
        update={
            "clicksign_base_url": clicksign.url,
            "clicksign_access_token": fake_clicksign.TOKEN,
            "clicksign_webhook_secret": CLICKSIGN_SECRET,
            "zapsign_base_url": zapsign.url,
            "zapsign_api_token": fake_zapsign.TOKEN,
            "zapsign_webhook_secret": ZAPSIGN_SECRET,
            # Reconciliation stays out of the way unless a test asks for it.
            "signature_reconcile_after_seconds": 3600.0,
        }
    )


def first_signer(provider: str) -> dict[str, str]:
    """The signer the documented webhook body names, so that body can be posted verbatim."""
    email = CLICKSIGN_SIGNER_EMAIL if provider == "clicksign" else ZAPSIGN_SIGNER_EMAIL
    return {"name": "Ana Pereira", "email": email}


def signature_workflow(
    provider: str, signers: list[dict[str, Any]] | str, **config: Any
) -> dict[str, Any]:
    """trigger → signature → a node that reads the signed document from the context."""
    node_config: dict[str, Any] = {
        "provider": provider,
        "title": "Contract {{ source.deal }}",
        "document": {
            "content_base64": base64.b64encode(CONTRACT).decode(),
            "filename": "contract.pdf",
        },
        "signers": signers,
        **config,
    }
    return {
        "name": f"sign with {provider}",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "sign", "type": "signature", "position": 1, "config": node_config},
            {
                "id": "after",
                "type": "set",
                "position": 2,
                "config": {
                    "values": {
                        "outcome": "{{ nodes.sign.outcome }}",
                        "documents": "{{ documents | length }}",
                    }
                },
            },
        ],
    }


@dataclass
class Stack:
    resources: Resources
    gateway: Gateway
    clicksign: FakeClickSign
    zapsign: FakeZapSign

    async def run(self, definition: dict[str, Any], deal: str = "42") -> uuid.UUID:
        workflow = await self.gateway.create_workflow(definition)
        accepted = await self.gateway.start(workflow["id"], {"trigger_data": {"deal": deal}})
        return uuid.UUID(accepted["execution_id"])

    async def paused(self, execution_id: uuid.UUID) -> RequestRow:
        """Wait until the run pauses at its signature node; its request."""
        row = await wait_for_status(self.resources, execution_id, "paused", "failed")
        assert row.status == "paused", row.error
        return await self.request_of(execution_id)

    async def request_of(self, execution_id: uuid.UUID) -> RequestRow:
        async with self.resources.engine.connect() as conn:
            request_id = await conn.scalar(
                select(SignatureRequest.id)
                .where(SignatureRequest.execution_id == execution_id)
                .order_by(SignatureRequest.generation.desc())
                .limit(1)
            )
            assert request_id is not None, "no signature request"
            request = await store.load(conn, request_id)
        assert request is not None
        return request

    async def post_clicksign(
        self, body: bytes, event: str, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        return await self.gateway.client.post(
            "/api/v1/webhooks/signature/clicksign",
            data=body,
            headers=headers if headers is not None else clicksign_headers(body, event),
        )

    async def post_zapsign(
        self, body: bytes, secret: str | None = ZAPSIGN_SECRET
    ) -> ClientResponse:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[self.resources.settings.zapsign_webhook_header] = secret
        return await self.gateway.client.post(
            "/api/v1/webhooks/signature/zapsign", data=body, headers=headers
        )

    async def processed_events(self) -> int:
        async with self.resources.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(InboxEvent)
                .where(InboxEvent.processed_at.is_not(None))
            )
        return int(count or 0)

    async def applied(self, count: int) -> None:
        """Wait until `count` accepted events have been applied by the executor."""
        await eventually(self.processed_events, lambda n: n >= count)

    async def detail(self, execution_id: uuid.UUID) -> dict[str, Any]:
        response = await self.gateway.client.get(
            f"/api/v1/executions/{execution_id}", headers=self.gateway.auth
        )
        assert response.status == 200, await response.text()
        detail: dict[str, Any] = await response.json()
        return detail

    async def resumes(self, execution_id: uuid.UUID) -> int:
        """paused → running moves of the execution: one per decided wait."""
        async with self.resources.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(ExecutionTransition)
                .where(
                    ExecutionTransition.execution_id == execution_id,
                    ExecutionTransition.from_status == "paused",
                    ExecutionTransition.to_status == "running",
                )
            )
        return int(count or 0)

    async def step_runs(self, execution_id: uuid.UUID, node_id: str) -> int:
        async with self.resources.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(ExecutionStep)
                .where(ExecutionStep.execution_id == execution_id, ExecutionStep.node_id == node_id)
            )
        return int(count or 0)


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings,
    clicksign: FakeClickSign,
    zapsign: FakeZapSign,
    *,
    executor: bool = True,
    scheduler: bool = False,
    **overrides: object,
) -> AsyncIterator[Stack]:
    settings = provider_settings(settings, clicksign, zapsign).model_copy(update=overrides)
    async with open_resources(settings) as resources, running_gateway(resources) as gateway:
        workers: list[Any] = []
        if executor:
            workers.append(ExecutorWorker(resources))
        if scheduler:
            workers.append(Scheduler(resources))
        for worker in workers:
            await worker.start()
        try:
            yield Stack(resources, gateway, clicksign, zapsign)
        finally:
            for worker in reversed(workers):
                await worker.stop()


async def seed_version(
    resources: Resources, workspace_id: uuid.UUID, definition: dict[str, Any]
) -> uuid.UUID:
    """A workflow saved without the API (for process tests that have no gateway)."""
    async with resources.sessions.begin() as session:
        workflow = Workflow(workspace_id=workspace_id, name=definition["name"], current_version=1)
        session.add(workflow)
        await session.flush()
        session.add(WorkflowVersion(workflow_id=workflow.id, version=1, definition=definition))
    return workflow.id


async def pending_request(
    stack: Stack,
    provider: str,
    document_key: str,
    emails: tuple[str, ...],
    *,
    create: bool = True,
) -> RequestRow:
    """A queued execution with a signature request as the node would leave it, made by hand
    (for gateway tests with no executor). `create=False` leaves it `creating`, with no key."""
    workflow = await stack.gateway.create_workflow(
        signature_workflow(provider, [{"name": "Someone", "email": e} for e in emails])
    )
    accepted = await stack.gateway.start(workflow["id"])
    execution_id = uuid.UUID(accepted["execution_id"])
    request, _ = await store.open_request(
        stack.resources.engine,
        store.NewRequest(
            workspace_id=stack.gateway.workspace_id,
            execution_id=execution_id,
            node_id="sign",
            idempotency_key=f"{execution_id}:sign",
            provider=provider,
            rule={"rule": "all", "required": len(emails)},
            title="Contract",
            expires_at=None,
            signers=tuple(SignerSpec(i, "Someone", e) for i, e in enumerate(emails)),
        ),
    )
    if create:
        state = CreationState(provider_request_id=document_key, provider_document_id=document_key)
        await store.save_creation(
            stack.resources.engine, request.id, state, status=RequestStatus.PENDING
        )
    return await stack.request_of(execution_id)

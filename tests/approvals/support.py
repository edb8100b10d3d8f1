"""A gate under test: executor, notifier and gateway over real PostgreSQL and RabbitMQ, and
an approver's side (reading the e-mail, opening the page, clicking)."""

import asyncio
import contextlib
import importlib
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from services.executor.worker import ExecutorWorker
from services.gateway.app import create_app
from services.notifier.worker import Notifier
from shared.approval_links import token_hash
from shared.db.tables import Approval, ApprovalToken, Execution
from shared.runtime import Resources
from tests.support import eventually, execution_row, seed_workflow, start_execution

LINK = re.compile(r"https?://[^\s\"'<>]+/approve/(?P<token>[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="(?P<csrf>[^"]+)"')


def gate_workflow(**gate: Any) -> dict[str, Any]:
    """trigger → human-in-loop `gate` → set `after` (which reads the decision)."""
    config = {"approvers": approvers(3), "subject": "Approve {{ source.deal.name }}", **gate}
    return {
        "name": "deal approval",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "gate", "type": "human-in-loop", "position": 1, "config": config},
            {
                "id": "after",
                "type": "set",
                "position": 2,
                "config": {"values": {"seen": "{{ approvals.gate.outcome }}"}},
            },
        ],
    }


def approvers(count: int) -> list[dict[str, str]]:
    return [{"email": f"approver{i}@example.com", "name": f"Approver {i}"} for i in range(count)]


DEAL = {"deal": {"name": "ACME renewal", "amount": 1200}}


@dataclass
class RecordingTransport:
    """Stands in for SMTP where the test is about the gate, not the wire.

    Takes either transport call the notifier makes: `send(email, recipients)`, or
    `send(outgoing)` with an `Outgoing` that builds the e-mail (`mime()`) and wants a receipt.
    """

    name: str = "recording"
    delivered_outcome: str = "sent"
    sent: list[EmailMessage] = field(default_factory=list)

    async def send(self, email: Any, recipients: Sequence[str] | None = None) -> Any:
        if isinstance(email, EmailMessage):
            self.sent.append(email)
            return None
        self.sent.append(email.mime())
        receipt = importlib.import_module("services.notifier.outgoing").Receipt
        return receipt("recorded")


def text_of(email: EmailMessage) -> str:
    part = email.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def token_in(email: EmailMessage) -> str:
    match = LINK.search(text_of(email))
    assert match, text_of(email)
    return match["token"]


@dataclass
class Harness:
    resources: Resources
    client: TestClient[Any, Any]
    transport: RecordingTransport
    #: Keeps no cookies: each approver is a browser of their own, cookies are passed explicitly.
    browser: aiohttp.ClientSession

    async def start(self, definition: dict[str, Any]) -> uuid.UUID:
        workspace_id, workflow_id = await seed_workflow(self.resources, definition)
        return await start_execution(self.resources, workspace_id, workflow_id, DEAL)

    async def links(self, count: int, *, after: int = 0) -> dict[str, str]:
        """address → token of the e-mails sent after the first `after`, once `count` arrived."""

        async def arrived() -> bool:
            return len(self.transport.sent) >= after + count

        await eventually(arrived)
        links = {str(e["To"]): token_in(e) for e in self.transport.sent[after : after + count]}
        hashes = [token_hash(token) for token in links.values()]

        async def committed() -> bool:
            # The transport is called inside the delivery's transaction: a link can be in hand
            # a moment before its token row is committed.
            async with self.resources.sessions() as session:
                found = await session.scalar(
                    select(func.count()).where(ApprovalToken.token_hash.in_(hashes))
                )
            return found == len(hashes)

        await eventually(committed)
        return links

    async def open_page(self, token: str) -> tuple[int, str, str | None]:
        """(status, html, csrf value) of the approver's page."""
        response = await self.browser.get(self.client.make_url(f"/approve/{token}"))
        html = await response.text()
        match = CSRF.search(html)
        return response.status, html, match["csrf"] if match else None

    async def post(
        self, token: str, csrf: str, decision: str, comment: str = "", **headers: str
    ) -> tuple[int, str]:
        response = await self.browser.post(
            self.client.make_url(f"/approve/{token}"),
            data={"csrf": csrf, "decision": decision, "comment": comment},
            headers={"Cookie": f"docflow_csrf={csrf}", **headers},
        )
        return response.status, await response.text()

    async def click(self, token: str, decision: str, comment: str = "") -> int:
        status, _, csrf = await self.open_page(token)
        assert status == 200 and csrf, status
        posted, _ = await self.post(token, csrf, decision, comment)
        return posted

    def resumes_without_decision(self) -> float:
        value = self.resources.metrics.registry.get_sample_value(
            "docflow_claim_conflicts_total", {"stage": "resume"}
        )
        return value or 0.0

    async def settled_without_decision(self, count: int) -> None:
        """Wait until the executor looked at `count` resumes that did not decide the wait."""

        async def seen() -> bool:
            return self.resumes_without_decision() >= count

        await eventually(seen)


async def approvals_of(resources: Resources, execution_id: uuid.UUID) -> list[Approval]:
    async with resources.sessions() as session:
        return list(
            await session.scalars(
                select(Approval)
                .where(Approval.execution_id == execution_id)
                .order_by(Approval.position, Approval.created_at)
            )
        )


async def paused_context(resources: Resources, execution_id: uuid.UUID) -> dict[str, Any]:
    async def paused() -> Execution | None:
        row = await execution_row(resources, execution_id)
        return row if row.status == "paused" else None

    row = await eventually(paused)
    assert row is not None
    return dict(row.context)


async def gather_limited(*coroutines: Any) -> list[Any]:
    return list(await asyncio.gather(*coroutines))


@dataclass
class Api:
    """The operator's side: an API key of the workspace that owns the workflow."""

    client: TestClient[Any, Any]
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def start(self, definition: dict[str, Any]) -> uuid.UUID:
        created = await self.client.post("/api/v1/workflows", json=definition, headers=self.auth)
        assert created.status == 201, await created.text()
        workflow_id = (await created.json())["id"]
        started = await self.client.post(
            f"/api/v1/workflows/{workflow_id}/executions",
            json={"trigger_data": DEAL},
            headers=self.auth,
        )
        assert started.status == 202, await started.text()
        return uuid.UUID((await started.json())["execution_id"])

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = await self.client.request(method, f"/api/v1{path}", json=body, headers=self.auth)
        return response.status, await response.json()


@contextlib.asynccontextmanager
async def running_harness(resources: Resources) -> AsyncIterator[Harness]:
    """Executor, notifier (recording what it sends) and gateway on `resources`."""
    transport = RecordingTransport()
    executor = ExecutorWorker(resources)
    notifier = Notifier(resources, transport=transport)
    await executor.start()
    await notifier.start()
    try:
        async with (
            TestClient(TestServer(create_app(resources))) as client,
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser,
        ):
            yield Harness(resources, client, transport, browser)
    finally:
        await notifier.stop()
        await executor.stop()

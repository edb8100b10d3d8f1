"""A gate under test: executor, notifier and gateway over real PostgreSQL and RabbitMQ, and
an approver's side (reading the e-mail, opening the page, clicking)."""

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from shared.db.tables import Approval, Execution
from shared.runtime import Resources
from tests.support import eventually, seed_workflow, start_execution

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
    """Stands in for SMTP where the test is about the gate, not the wire."""

    delivered_outcome: str = "sent"
    sent: list[EmailMessage] = field(default_factory=list)

    async def send(self, email: EmailMessage, recipients: Sequence[str]) -> str | None:
        self.sent.append(email)
        return None


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

    async def start(self, definition: dict[str, Any]) -> uuid.UUID:
        workspace_id, workflow_id = await seed_workflow(self.resources, definition)
        return await start_execution(self.resources, workspace_id, workflow_id, DEAL)

    async def links(self, count: int, *, after: int = 0) -> dict[str, str]:
        """address → token of the e-mails sent after the first `after`, once `count` arrived."""

        async def arrived() -> bool:
            return len(self.transport.sent) >= after + count

        await eventually(arrived)
        return {str(e["To"]): token_in(e) for e in self.transport.sent[after : after + count]}

    async def open_page(self, token: str) -> tuple[int, str, str | None]:
        """(status, html, csrf value) of the approver's page."""
        response = await self.client.get(f"/approve/{token}")
        html = await response.text()
        match = CSRF.search(html)
        return response.status, html, match["csrf"] if match else None

    async def post(
        self, token: str, csrf: str, decision: str, comment: str = "", **headers: str
    ) -> tuple[int, str]:
        response = await self.client.post(
            f"/approve/{token}",
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
        async with resources.sessions() as session:
            row = await session.get(Execution, execution_id, populate_existing=True)
            return row if row is not None and row.status == "paused" else None

    row = await eventually(paused)
    assert row is not None
    return dict(row.context)


async def gather_limited(*coroutines: Any) -> list[Any]:
    return list(await asyncio.gather(*coroutines))

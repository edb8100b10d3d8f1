"""What one approver's page and e-mails show: the gate they are asked about, read in one go.

Read by the notifier (to write the e-mail) and the gateway (to render the page); neither
decides anything from it.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables import Approval, Execution, Wait, Workflow

#: Approver statuses shown among "who else approves".
LISTED = ("pending", "approved", "rejected", "expired")


@dataclass(frozen=True)
class Peer:
    email: str
    name: str | None
    status: str


@dataclass(frozen=True)
class GateView:
    approval_id: uuid.UUID
    email: str
    name: str | None
    #: This approver's status: pending | approved | rejected | replaced | cancelled | expired.
    status: str
    comment: str | None
    decided_at: datetime | None
    late: bool
    wait_id: uuid.UUID
    #: open | decided | cancelled
    wait_status: str
    wait_decision: dict[str, Any] | None
    expires_at: datetime | None
    rule: dict[str, Any]
    execution_id: uuid.UUID
    workspace_id: uuid.UUID
    node_id: str
    workflow_name: str
    peers: list[Peer]

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def subject(self) -> str:
        return str(self.rule.get("subject") or "Approval requested")

    @property
    def outcome(self) -> str | None:
        return (self.wait_decision or {}).get("outcome")


async def load_gate(session: AsyncSession, approval_id: uuid.UUID) -> GateView | None:
    row = (
        await session.execute(
            select(Approval, Wait, Workflow.name)
            .join(Wait, Wait.id == Approval.wait_id)
            .join(Execution, Execution.id == Approval.execution_id)
            .join(Workflow, Workflow.id == Execution.workflow_id)
            .where(Approval.id == approval_id)
        )
    ).first()
    if row is None:
        return None
    approval, wait, workflow_name = row
    peers = (
        await session.execute(
            select(Approval.email, Approval.name, Approval.status)
            .where(Approval.wait_id == wait.id, Approval.status.in_(LISTED))
            .order_by(Approval.position, Approval.created_at)
        )
    ).all()
    return GateView(
        approval_id=approval.id,
        email=approval.email,
        name=approval.name,
        status=approval.status,
        comment=approval.comment,
        decided_at=approval.decided_at,
        late=approval.late,
        wait_id=wait.id,
        wait_status=wait.status,
        wait_decision=wait.decision,
        expires_at=wait.expires_at,
        rule=wait.rule or {},
        execution_id=approval.execution_id,
        workspace_id=approval.workspace_id,
        node_id=approval.node_id,
        workflow_name=workflow_name,
        peers=[Peer(p.email, p.name, p.status) for p in peers],
    )

"""What the approval routes answer and the approvers' form, as the OpenAPI document shows
them (the request bodies of the gate operations are the models in api.py)."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.gateway.approvals.decisions import MAX_COMMENT_CHARS

ApproverStatus = Literal["pending", "approved", "rejected", "replaced", "cancelled", "expired"]


class GateApprover(BaseModel):
    id: uuid.UUID
    email: str
    name: str | None
    status: ApproverStatus
    late: bool
    comment: str | None
    decided_at: datetime | None
    client_ip: str | None
    user_agent: str | None
    #: The API key that decided on the approver's behalf; None when they used their link.
    decided_by_key: uuid.UUID | None
    notified_at: datetime | None
    reminders_sent: int


class ListedApprover(GateApprover):
    """An approver with the gate it belongs to."""

    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    node_id: str
    wait_id: uuid.UUID
    gate_status: str
    since: datetime
    expires_at: datetime | None


class ApprovalList(BaseModel):
    items: list[ListedApprover]


class ApprovalGate(BaseModel):
    execution_id: uuid.UUID
    node_id: str
    wait_id: uuid.UUID
    status: str
    strategy: Literal["any", "all", "quorum"]
    required: int
    expires_at: datetime | None
    approvers: list[GateApprover]


class ApprovalDecisionForm(BaseModel):
    csrf: str
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)

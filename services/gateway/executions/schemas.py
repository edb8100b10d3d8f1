"""What the executions routes take and answer, as the OpenAPI document shows it (views.py,
progress.py and the handlers build the answers; these models describe them)."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.gateway.approvals.schemas import GateApprover
from services.gateway.signatures.schemas import SignatureRequest
from shared.status import ExecutionStatus


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger_data: dict[str, Any] = Field(default_factory=dict)


class ExecutionAccepted(BaseModel):
    execution_id: uuid.UUID
    status: ExecutionStatus
    workflow_id: uuid.UUID
    workflow_version: int


class CancelAccepted(BaseModel):
    execution_id: uuid.UUID
    status: ExecutionStatus
    cancel_requested: Literal[True]


class RetryAccepted(BaseModel):
    execution_id: uuid.UUID
    status: ExecutionStatus
    retry_requested: Literal[True]


class ExecutionSummary(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    status: ExecutionStatus
    current_node_id: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    execution_time_ms: int | None


class ExecutionPage(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None


class Condition(BaseModel):
    """A step's `when`: the expression, its value, and whether that value was true."""

    when: str
    value: Any
    result: bool


class ExecutionStep(BaseModel):
    node_id: str
    node_type: str
    attempt: int
    status: str
    started_at: datetime
    completed_at: datetime | None
    duration_ms: int | None
    error: str | None
    output_summary: dict[str, Any] | None
    condition: Condition | None


class Wait(BaseModel):
    id: uuid.UUID
    node_id: str
    #: Every kind a node waits with (delay, retry back-off, human-in-loop, signature, event,
    #: e-mail delivery): views.wait shows the row's kind as it is.
    kind: Literal["timer", "retry", "approval", "signature", "event", "email"]
    status: Literal["open", "decided", "expired", "cancelled"]
    #: What an `event` wait waits for; None for other kinds.
    name: str | None
    #: Where to POST the event without an API key: only on an open `event` wait, and only
    #: when the gateway has a secret key to sign it with.
    resume_url: str | None = None
    expires_at: datetime | None
    decision: dict[str, Any] | None
    created_at: datetime
    decided_at: datetime | None


class WaitEvent(BaseModel):
    """An event delivered to an `event` node, by the API or its resume URL."""

    id: int
    node_id: str
    name: str
    via: Literal["api", "url"]
    status: Literal["accepted", "late"]
    wait_id: uuid.UUID | None
    received_at: datetime


class Execution(ExecutionSummary):
    context: dict[str, Any]
    trigger_data: dict[str, Any]
    steps: list[ExecutionStep]
    waits: list[Wait]
    approvals: list[GateApprover]
    signature_requests: list[SignatureRequest]
    events: list[WaitEvent]


class Step(BaseModel):
    """One node attempt, as the steps list and the live stream show it."""

    id: int
    execution_id: uuid.UUID
    node_id: str
    node_type: str
    attempt: int
    status: str
    started_at: datetime
    completed_at: datetime | None
    duration_ms: int | None
    error: str | None
    output_summary: dict[str, Any] | None
    condition: Condition | None


class StepList(BaseModel):
    execution_id: uuid.UUID
    status: str
    items: list[Step]


class StreamEvent(BaseModel):
    """One Server-Sent Event of an execution's stream. Before OpenAPI 3.2 (`itemSchema`), an
    event stream's `schema` describes each event, not the stream's text."""

    #: node.started|waiting|completed|failed|interrupted|cancelled|skipped, or
    #: execution.<its final status>.
    event: str = Field(pattern=r"^(node|execution)\.[a-z_]+$")
    #: What Last-Event-ID takes to continue after this event.
    id: str
    #: The event's fields as JSON, its name among them.
    data: str


class WaitEventAccepted(BaseModel):
    event_id: int
    execution_id: uuid.UUID
    node_id: str
    name: str
    status: Literal["accepted"]
    repeat: bool

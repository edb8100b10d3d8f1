"""Broker messages: versioned pydantic models told apart by `type`, validated at the consumer."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.errors import UndecodableMessage

SCHEMA_VERSION: Literal[1] = 1


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    schema_version: Literal[1] = SCHEMA_VERSION


class RunExecution(Message):
    """Claim and run an execution from its current node (new, or reclaimed after a lost lease)."""

    type: Literal["execution.run"] = "execution.run"
    execution_id: uuid.UUID


class RetryExecution(Message):
    """Continue a failed execution from the failed node with its saved context."""

    type: Literal["execution.retry"] = "execution.retry"
    execution_id: uuid.UUID


class CancelExecution(Message):
    type: Literal["execution.cancel"] = "execution.cancel"
    execution_id: uuid.UUID
    reason: str = "cancelled on request"


class ResumeExecution(Message):
    """A wait has facts to apply (a decision, a due timer, an expiry)."""

    type: Literal["execution.resume"] = "execution.resume"
    execution_id: uuid.UUID
    wait_id: uuid.UUID
    #: timer_due | expired | fact | event (an `event` node's event was recorded) | approval
    #: (an approver decided). Executors on PostgreSQL resume `event` and `approval` in one
    #: statement; others, and older executors, treat them as a `fact`.
    reason: str = "fact"
    #: When the fact that asks for this resume was recorded; the executor measures resume
    #: latency from it (timers are measured from their due time instead).
    requested_at: datetime | None = None


class EventArrived(Message):
    """An event was recorded for an `event` node whose wait the gateway did not see open.

    The wait may have opened meanwhile (its pause committing while the event was recorded,
    each transaction blind to the other): the executor resumes the node's open wait, if any.
    Otherwise the wait, once open, settles on the event itself (`settle_on_open`).
    """

    type: Literal["execution.event_arrived"] = "execution.event_arrived"
    execution_id: uuid.UUID
    node_id: str
    requested_at: datetime | None = None


class EmailAttachment(BaseModel):
    """A document of the execution, attached by id: the bytes never travel through the broker."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    document_id: uuid.UUID
    #: The name the recipient sees; default: the document's own name.
    filename: str | None = None


class SendEmail(Message):
    type: Literal["email.send"] = "email.send"
    #: De-duplicates deliveries: the same key is sent at most once.
    idempotency_key: str
    to: list[str]
    cc: list[str] = Field(default_factory=list)
    bcc: list[str] = Field(default_factory=list)
    subject: str
    text: str
    html: str | None = None
    workspace_id: uuid.UUID | None = None
    execution_id: uuid.UUID | None = None
    #: The workspace connection (kind `smtp` or `microsoft`) it goes out through; None: the
    #: notifier's own SMTP settings.
    connection: str | None = None
    attachments: list[EmailAttachment] = Field(default_factory=list)
    #: The wait the notifier resumes (a `fact`) once the e-mail was sent or failed for good.
    wait_id: uuid.UUID | None = None


class ApprovalEmail(Message):
    """E-mail one approver a fresh link to their approval page.

    Carries no token: the notifier mints it while sending and stores only its hash, so no
    link is ever at rest in the database (outbox, deliveries) or the broker.
    """

    type: Literal["approval.email"] = "approval.email"
    approval_id: uuid.UUID
    #: request | reminder | resend
    purpose: Literal["request", "reminder", "resend"] = "request"
    #: De-duplicates deliveries, as `SendEmail.idempotency_key` does.
    idempotency_key: str


class SignatureEvent(Message):
    """A verified provider webhook, stored in the inbox, for the executor to apply."""

    type: Literal["signature.event"] = "signature.event"
    #: clicksign | zapsign
    provider: str
    inbox_id: int
    request_id: uuid.UUID
    #: The event as the provider sent it (also kept in the inbox).
    payload: dict[str, Any]
    #: When the gateway took the webhook: where the executor's resume latency starts.
    received_at: datetime | None = None


class ExecutionEvent(Message):
    """Published on the `execution.events` topic exchange with routing key = `event`."""

    type: Literal["execution.event"] = "execution.event"
    #: execution.started|paused|resumed|completed|failed|cancelled,
    #: node.started|waiting|completed|failed|skipped
    event: str
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workspace_id: uuid.UUID
    status: str
    node_id: str | None = None
    node_type: str | None = None
    attempt: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    at: datetime


class ExecutionEventBatch(Message):
    """Several events of one name in one broker message, routed by that name.

    The executor publishes what its runs emitted during one turn of the event loop together:
    one AMQP message costs about as much CPU as a whole batch, and a 10-node run emits 22
    events. Grouping by name keeps topic bindings such as `node.completed` meaningful; the
    order of events inside a batch is the order they were emitted.
    """

    type: Literal["execution.events"] = "execution.events"
    event: str
    events: list[ExecutionEvent]


AnyMessage = Annotated[
    RunExecution
    | RetryExecution
    | CancelExecution
    | ResumeExecution
    | EventArrived
    | SendEmail
    | ApprovalEmail
    | SignatureEvent
    | ExecutionEvent
    | ExecutionEventBatch,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyMessage)


def encode(message: Message) -> bytes:
    return message.model_dump_json().encode()


def decode(body: bytes | str | dict[str, Any]) -> Message:
    try:
        if isinstance(body, dict):
            decoded: Message = _ADAPTER.validate_python(body)
        else:
            decoded = _ADAPTER.validate_json(body)
    except ValidationError as e:
        raise UndecodableMessage(str(e)) from e
    return decoded


def unbatched(message: Message) -> list[ExecutionEvent]:
    """The execution events a message on the events exchange carries (none when it is not one)."""
    if isinstance(message, ExecutionEventBatch):
        return message.events
    if isinstance(message, ExecutionEvent):
        return [message]
    return []


def batches_by_name(events: Sequence[ExecutionEvent]) -> list[ExecutionEventBatch]:
    """One batch per event name, in the order each name first appears."""
    grouped: dict[str, list[ExecutionEvent]] = {}
    for item in events:
        grouped.setdefault(item.event, []).append(item)
    return [ExecutionEventBatch(event=name, events=items) for name, items in grouped.items()]

"""The tables. Every query that reads them is scoped to a workspace."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.types import JsonColumn, StatusColumn, UtcDateTime, utcnow
from shared.esign.model import RequestStatus, SignerStatus
from shared.status import (
    ApprovalStatus,
    DocumentStatus,
    ExecutionStatus,
    StepStatus,
    WaitEventStatus,
    WaitStatus,
)

# SQLite only autoincrements INTEGER PRIMARY KEY, so big ids are plain integers there.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonColumn}


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    #: SHA-256 hex of the key; the key itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: First characters of the key, so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    #: What the key is for, as its creator said ("ci", "zapier").
    name: Mapped[str | None] = mapped_column(String(200))
    #: After this the key is refused; None never expires.
    expires_at: Mapped[datetime | None]
    #: When a gateway last read the key for a request, to about a minute.
    last_used_at: Mapped[datetime | None]


class Workflow(Base):
    __tablename__ = "workflows"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowVersion(Base):
    """An immutable definition; executions are pinned to one."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "workflow_id", "idempotency_key"),
        Index("ix_executions_workspace_created", "workspace_id", "created_at"),
        Index("ix_executions_status_lease", "status", "lease_expires_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id"), index=True)
    workflow_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[ExecutionStatus] = mapped_column(StatusColumn(ExecutionStatus))
    #: Bumped by every claim and checkpoint; writers compare-and-set on it.
    version: Mapped[int] = mapped_column(Integer, default=0)
    current_node_id: Mapped[str | None] = mapped_column(String(200))
    # Plain JSON text, not jsonb: a snapshot must read back exactly as saved (jsonb turns
    # 2.5e16 into an integer), and the context is only ever read whole.
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    trigger_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    #: SHA-256 of the run request's `trigger_data` (canonical JSON), so a reused idempotency
    #: key with another body is told apart from a retry. None for runs not asked for over
    #: the API, and for runs from before the column.
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    execution_time_ms: Mapped[int | None] = mapped_column(Integer)


class ExecutionTransition(Base):
    """One row per status move, written in the same transaction as the move."""

    __tablename__ = "execution_transitions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    from_status: Mapped[ExecutionStatus | None] = mapped_column(StatusColumn(ExecutionStatus))
    to_status: Mapped[ExecutionStatus] = mapped_column(StatusColumn(ExecutionStatus))
    reason: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ExecutionStep(Base):
    """One row per node attempt: the durable per-node log."""

    __tablename__ = "execution_steps"
    __table_args__ = (UniqueConstraint("execution_id", "node_id", "attempt"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"))
    node_id: Mapped[str] = mapped_column(String(200))
    node_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    #: running | waiting | completed | failed | interrupted | cancelled | skipped (its `when`
    #: was false: the node did not run)
    status: Mapped[StepStatus] = mapped_column(StatusColumn(StepStatus))
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    output_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: The node's `when` and its value, `{"when": "{{ … }}", "value": …}`; None without `when`.
    condition: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Wait(Base):
    """A paused node waiting for a timer, a back-off, or facts (approvals, signatures)."""

    __tablename__ = "waits"
    __table_args__ = (Index("ix_waits_status_expires", "status", "expires_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(200))
    #: timer | retry | approval | signature
    kind: Mapped[str] = mapped_column(String(16))
    rule: Mapped[dict[str, Any]]
    facts: Mapped[dict[str, Any]]
    #: open | decided | expired | cancelled
    status: Mapped[WaitStatus] = mapped_column(StatusColumn(WaitStatus), default=WaitStatus.OPEN)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    expires_at: Mapped[datetime | None]
    #: Set once by the scheduler when it published the due resume; guards double firing.
    fired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class WaitEvent(Base):
    """An external event delivered to an `event` node, by the API or a resume URL.

    Recorded by the gateway, applied by the executor. At most one event per node and execution
    is `accepted` (the one that decides, or will decide, its wait); any other is recorded
    `late` and changes nothing. `dedup_key` makes a repeat (same `Idempotency-Key`, same resume
    token: only its SHA-256) a repeat.
    """

    __tablename__ = "wait_events"
    __table_args__ = (
        UniqueConstraint("execution_id", "node_id", "dedup_key"),
        Index(
            "ix_wait_events_accepted",
            "execution_id",
            "node_id",
            unique=True,
            postgresql_where=text("status = 'accepted'"),
            sqlite_where=text("status = 'accepted'"),
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"))
    node_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    #: `key:<Idempotency-Key>`, `token:<sha256 of the resume token>` or `once:<uuid>`.
    dedup_key: Mapped[str] = mapped_column(String(300))
    #: api | url
    via: Mapped[str] = mapped_column(String(8))
    #: accepted | late
    status: Mapped[WaitEventStatus] = mapped_column(StatusColumn(WaitEventStatus, 8))
    payload: Mapped[Any] = mapped_column(JsonColumn, nullable=True)
    #: The open wait it was delivered to; None when it came before the wait opened.
    wait_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message that must follow a committed change; deleted once the broker confirmed it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: Logical queue name (without the deployment prefix).
    queue: Mapped[str] = mapped_column(String(100))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class EmailDelivery(Base):
    """One row per e-mail idempotency key: whether it went out, and how often it was tried.

    No foreign keys: the notifier records what it was asked to send and never refuses an e-mail
    because the execution or workspace it names is unknown here.
    """

    __tablename__ = "email_deliveries"
    __table_args__ = (Index("ix_email_deliveries_workspace_created", "workspace_id", "created_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    #: The sender's de-duplication key (`{execution_id}:{node_id}`); sent at most once.
    idempotency_key: Mapped[str] = mapped_column(String(500), unique=True)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    execution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    #: {"to": [...], "cc": [...], "bcc": [...]}
    recipients: Mapped[dict[str, Any]]
    subject: Mapped[str] = mapped_column(Text)
    #: sending | sent | failed
    status: Mapped[str] = mapped_column(String(16), default="sending")
    #: Tries on the e-mail's own account, the one under way included (not those cut short).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: RFC 5322 Message-ID, derived from the key so every attempt carries the same one.
    message_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # Added with the e-mail nodes (migration 0007); nullable so older rows stay valid.
    #: When a deferred e-mail is tried again; the key is not tried before then.
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    #: The broker message to publish again at `next_attempt_at` (never a rendered approval link).
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: smtp | graph | console: how the last attempt went out.
    transport: Mapped[str | None] = mapped_column(String(16))
    #: What the server answered when it took the e-mail (`250 …`, `202 Accepted`).
    server_reply: Mapped[str | None] = mapped_column(Text)
    # Added for crash-proof e-mail (migration 0014, ADR 020).
    #: The try under way: committed before the server is spoken to and cleared by its outcome,
    #: so a claim that outlives its try marks a try cut short (a crash, a lost database).
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: When the try under way began; a claim older than DOCFLOW_EMAIL_STUCK_AFTER_SECONDS with
    #: nobody holding the row is put back in the queue.
    claimed_at: Mapped[datetime | None] = mapped_column(index=True)
    #: Tries cut short without an outcome: counted apart from `attempts` (the e-mail's own).
    interruptions: Mapped[int] = mapped_column(Integer, server_default="0")


class InboxEvent(Base):
    """An accepted provider event, unique per (provider, event key): the de-duplicator."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("provider", "event_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: clicksign | zapsign | hubspot | webhook:<workflow id> …
    provider: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(300))
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


# --- Connections (documents, e-mail and CRM) ---


class Connection(Base):
    """Provider credentials of a workspace; `sealed` is the whole config, encrypted."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[str] = mapped_column(Text)
    #: Names of the fields set, so people can see what a connection holds without its values.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Approvals (human approval gates) ---


class Approval(Base):
    """One approver of one approval wait, and the audit of what they decided.

    Links are never stored: an approver's tokens live in `approval_tokens` as SHA-256 hashes.
    """

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_status_next_reminder", "status", "next_reminder_at"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    wait_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("waits.id"), index=True)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    node_id: Mapped[str] = mapped_column(String(200))
    #: The approver's place in the node's list; a reassigned approver's successor keeps it.
    position: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    #: pending | approved | rejected | replaced | cancelled
    status: Mapped[ApprovalStatus] = mapped_column(
        StatusColumn(ApprovalStatus), default=ApprovalStatus.PENDING
    )
    #: Decided after the wait had decided: recorded, and changes nothing.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When a link was last staged for e-mail (request, reminder or resend).
    notified_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    #: None: no reminders for this gate.
    next_reminder_at: Mapped[datetime | None]


class ApprovalToken(Base):
    """One link's token, as its SHA-256 hex only. An approver may hold several live ones
    (the request and each reminder); `resend` revokes them all and mints a new one."""

    __tablename__ = "approval_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    approval_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("approvals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


# --- Triggers (HubSpot and Standard Webhooks) ---


class WebhookSecret(Base):
    """A workflow's Standard Webhooks secret, sealed; the previous one stays valid a while after
    a rotation so senders can switch without dropping events."""

    __tablename__ = "webhook_secrets"
    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id"), primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    sealed: Mapped[str] = mapped_column(Text)
    previous_sealed: Mapped[str | None] = mapped_column(Text)
    previous_valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None]


# --- E-signature (ClickSign, ZapSign): requests, signers, signed documents ---


class SignatureRequest(Base):
    """One provider request made by one `signature` node attempt series.

    A node re-run (after a crash, or a retry of a transient error) finds the request by its
    idempotency key and reuses it; only after a request ended without a signature (refused,
    expired, cancelled) does a `retry` of the execution open the next `generation`.
    """

    __tablename__ = "signature_requests"
    __table_args__ = (
        UniqueConstraint("idempotency_key", "generation"),
        Index("ix_signature_requests_provider_document", "provider", "provider_document_id"),
        Index("ix_signature_requests_status_activity", "status", "last_activity_at"),
        Index("ix_signature_requests_cancel_due", "cancel_due_at"),
    )
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(200))
    #: `{execution_id}:{node_id}`: ZapSign's external_id, part of ClickSign's envelope name.
    idempotency_key: Mapped[str] = mapped_column(String(300))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    #: clicksign | zapsign
    provider: Mapped[str] = mapped_column(String(16))
    #: The wait the node opens; fixed when the request is made, so early events can name it.
    wait_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    #: creating | pending | signed | refused | expired | cancelled
    status: Mapped[RequestStatus] = mapped_column(
        StatusColumn(RequestStatus), default=RequestStatus.CREATING
    )
    #: {"rule": "all" | "any" | "quorum", "required": N}
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(String(300))
    #: ClickSign envelope id; ZapSign document token.
    provider_request_id: Mapped[str | None] = mapped_column(String(200))
    #: ClickSign document key (what its webhooks name); ZapSign document token.
    provider_document_id: Mapped[str | None] = mapped_column(String(200))
    #: Creation steps done at the provider, so a resumed creation skips them.
    progress: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Every signer signed, or the provider closed the document: its signed file is due.
    provider_done: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    #: Last webhook or poll; reconciliation polls requests quiet for longer than configured.
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The workspace's `clicksign`/`zapsign` connection whose account made the request; None:
    #: the settings account. Every later call for the request (polls, downloads, cancelling)
    #: goes through the same account. No foreign key: a deleted connection must not turn the
    #: request into one of the settings account.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The run ended (cancelled, failed, or its wait expired with `on_timeout: fail`) while the
    #: request was open: it is to be cancelled at the provider.
    cancel_requested_at: Mapped[datetime | None]
    #: When the next try at cancelling is due (a try in progress pushes it ahead); None once
    #: the cancellation has an outcome.
    cancel_due_at: Mapped[datetime | None]
    cancel_attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: cancelled | refused | gave_up | nothing_to_cancel
    cancel_outcome: Mapped[str | None] = mapped_column(String(32))
    #: When the provider accepted the cancellation.
    cancelled_at: Mapped[datetime | None]
    #: The provider's answer to the last try: {"status", "body"} or {"status", "error"}.
    cancel_answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Signer(Base):
    __tablename__ = "signers"
    __table_args__ = (UniqueConstraint("request_id", "position"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("signature_requests.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    phone_country: Mapped[str | None] = mapped_column(String(4))
    #: email | sms | whatsapp | none
    auth: Mapped[str] = mapped_column(String(16))
    #: Signing order (1 first) when ordered.
    signing_group: Mapped[int | None] = mapped_column(Integer)
    #: ClickSign signer id; ZapSign signer token.
    provider_signer_id: Mapped[str | None] = mapped_column(String(200))
    #: pending | signed | refused
    status: Mapped[SignerStatus] = mapped_column(
        StatusColumn(SignerStatus), default=SignerStatus.PENDING
    )
    #: When the signer signed or refused, as the provider says.
    acted_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignedDocument(Base):
    """The signed file, downloaded as soon as the provider finished (ZapSign links expire)."""

    __tablename__ = "signed_documents"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("signature_requests.id"), unique=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    source_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Templates and generated documents (documents, e-mail and CRM) ---


class Template(Base):
    """A named .docx/.pptx template of a workspace; each upload is a version, the newest current."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(String(200))
    #: docx | pptx; a name keeps its kind across versions.
    kind: Mapped[str] = mapped_column(String(8))
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TemplateVersion(Base):
    """The bytes of one upload, in the database so any executor on any machine reads them."""

    __tablename__ = "template_versions"
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("templates.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A generated document with its lineage: what it was made from, and where copies went.

    Unique per (node idempotency key, input hash, variant): a node re-run after a crash finds
    what its first attempt produced instead of making a second copy.
    """

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("idempotency_key", "input_sha256", "variant"),)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), index=True)
    node_id: Mapped[str] = mapped_column(String(200))
    #: `{execution_id}:{node_id}`, the same on every attempt of the node.
    idempotency_key: Mapped[str] = mapped_column(String(300))
    #: SHA-256 of the canonical JSON of everything the output was made from.
    input_sha256: Mapped[str] = mapped_column(String(64))
    #: document (the node's own output) | pdf (a conversion of it)
    variant: Mapped[str] = mapped_column(String(16))
    #: pending (a provider copy exists, the bytes not yet) | ready
    status: Mapped[DocumentStatus] = mapped_column(StatusColumn(DocumentStatus))
    name: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("templates.id"))
    template_version: Mapped[int | None] = mapped_column(Integer)
    #: A Google template's Drive file id (Google templates are not uploaded to DocFlow).
    template_file_id: Mapped[str | None] = mapped_column(String(300))
    #: The document this one was converted from (a PDF's .docx).
    derived_from: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: {"graph": {"item_id", "path"}, "google": {"file_id"}}
    provider_ids: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: {"web": "https://…"}: where people open the provider's copy.
    links: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

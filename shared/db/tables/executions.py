"""Executions and what the engine keeps of them: transitions, steps, waits and the events
delivered to `event` waits."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.tables.base import Base, BigId
from shared.db.types import JsonColumn, JsonValue, StatusColumn, utcnow
from shared.status import (
    ExecutionStatus,
    StepStatus,
    WaitEventStatus,
    WaitStatus,
)

#: The partial index's predicate (`ix_waits_open_gates_last_decided`): open approval gates with
#: at least one decision recorded.
OPEN_DECIDED_GATES = "status = 'open' AND kind = 'approval' AND last_decided_at IS NOT NULL"


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


class ExecutionOutput(Base):
    """A node's output: one row per node of an execution, written by that node's checkpoint.

    The outputs are the part of a context that grows with every node; kept here, a checkpoint
    writes what its node added instead of the whole context again (`executions.context` holds
    the rest, rewritten only when it changes). Readers put the two together
    (`shared.context.restore`).
    """

    __tablename__ = "execution_outputs"
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    output: Mapped[Any] = mapped_column(JsonValue, nullable=True)
    #: When it was written: the order outputs are read back in.
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
    __table_args__ = (
        Index("ix_waits_status_expires", "status", "expires_at"),
        # The open-waits gauge counts by kind every few seconds: an index-only scan of the
        # open waits' kinds, not a visit of every open wait's row (migration 0018).
        Index(
            "ix_waits_open_kind",
            "kind",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        # The scheduler's stalled-gates pass starts from the open gates someone decided on:
        # gates nobody touched are not in this index, so parked runs cost the pass nothing
        # (migration 0019). `kind` leads although the predicate fixes it: SQLite's planner,
        # without statistics, otherwise prefers ix_waits_open_kind's equality on `kind`
        # (every open gate) to a range on `last_decided_at`.
        Index(
            "ix_waits_open_gates_last_decided",
            "kind",
            "last_decided_at",
            postgresql_where=text(OPEN_DECIDED_GATES),
            sqlite_where=text(OPEN_DECIDED_GATES),
        ),
    )
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
    #: Approval gates: when the latest approver decision counted by the rule was recorded
    #: (the gateway sets it with the decision). None while nobody has decided; the
    #: stalled-gates pass reads only gates where it is set.
    last_decided_at: Mapped[datetime | None]


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

"""Message handlers: turn run / retry / cancel / resume messages into claims and runs."""

import contextlib
import uuid
from datetime import datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.definitions import Definitions, PreparedWorkflow
from services.executor.events import Events, event, execution_event
from services.executor.runner import Runner
from shared.db.tables import Wait
from shared.db.types import utcnow
from shared.logging import log_context
from shared.messages import (
    CancelExecution,
    EventArrived,
    Message,
    ResumeExecution,
    RetryExecution,
    RunExecution,
)
from shared.metrics import Metrics
from shared.settings import Settings
from shared.state_machine import claim, end, lease
from shared.state_machine.approval_resume_pg import approval_resumes
from shared.state_machine.claim_pg import QueuedClaims
from shared.state_machine.claimed import Claimed
from shared.state_machine.event_resume_pg import event_resumes
from shared.state_machine.fused_resume_pg import FusedResumes
from shared.state_machine.resume import Resume, resuming
from shared.state_machine.waits import WaitRecord
from shared.status import ExecutionStatus as S
from shared.status import WaitStatus

log = structlog.get_logger(__name__)


class Handlers:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        events: Events,
        definitions: Definitions,
        runner: Runner,
        metrics: Metrics,
        settings: Settings,
    ) -> None:
        self._engine = engine
        # Claims of queued runs that arrive together share one statement (PostgreSQL only),
        # and so do the resumes whose rule SQL spells, by the reason their message gives.
        postgres = engine.dialect.name == "postgresql"
        self._queued = QueuedClaims(engine) if postgres else None
        self._in_one_statement: dict[str, FusedResumes] = (
            {
                "event": event_resumes(engine),
                "approval": approval_resumes(
                    engine,
                    max_context_bytes=settings.max_context_bytes,
                    max_node_output_bytes=settings.max_node_output_bytes,
                ),
            }
            if postgres
            else {}
        )
        self._events = events
        self._definitions = definitions
        self._runner = runner
        self._metrics = metrics
        self._owner = settings.worker_id
        self._lease = settings.lease_seconds

    async def on_run_queue(self, message: Message) -> None:
        if isinstance(message, RunExecution):
            await self.run(message.execution_id)
        elif isinstance(message, RetryExecution):
            await self.retry(message.execution_id)
        elif isinstance(message, CancelExecution):
            await self.cancel(message.execution_id, message.reason)
        else:
            log.warning("message_ignored", message_type=getattr(message, "type", None))

    async def on_resume_queue(self, message: Message) -> None:
        if isinstance(message, ResumeExecution):
            await self.resume(
                message.execution_id,
                message.wait_id,
                message.reason,
                requested_at=message.requested_at,
            )
        elif isinstance(message, EventArrived):
            await self.event_arrived(message)
        else:
            log.warning("message_ignored", message_type=getattr(message, "type", None))

    async def run(self, execution_id: uuid.UUID) -> None:
        with log_context(execution_id=str(execution_id)):
            claimed = await claim.claim_run(
                self._engine,
                execution_id,
                owner=self._owner,
                lease_seconds=self._lease,
                first_node_id=self._definitions.first_node_id,
                queued=self._queued,
            )
            if claimed is None:
                return self._conflict("run")
            if claimed.first_claim:
                workflow_id = str(claimed.workflow_id)
                self._metrics.executions_started.labels(workflow_id=workflow_id).inc()
                self._events.emit(event(claimed, "execution.started", S.RUNNING))
            else:
                self._events.emit(event(claimed, "execution.resumed", S.RUNNING))
            await self._run(claimed)

    async def retry(self, execution_id: uuid.UUID) -> None:
        with log_context(execution_id=str(execution_id)):
            claimed = await claim.claim_retry(
                self._engine, execution_id, owner=self._owner, lease_seconds=self._lease
            )
            if claimed is None:
                return self._conflict("retry")
            self._events.emit(event(claimed, "execution.resumed", S.RUNNING))
            await self._run(claimed)

    async def resume(
        self,
        execution_id: uuid.UUID,
        wait_id: uuid.UUID,
        reason: str,
        *,
        requested_at: datetime | None = None,
    ) -> None:
        fused = self._in_one_statement.get(reason)
        if fused is not None:
            return await self._resume_in_one_statement(
                fused, execution_id, wait_id, reason, requested_at
            )
        with log_context(execution_id=str(execution_id)):
            async with resuming(self._engine, execution_id, wait_id) as resume:
                if resume is None:
                    return self._conflict("resume")
                workflow = await self._definitions.get(resume.workflow_id, resume.workflow_version)
                claimed = await self._decide(resume, workflow, reason)
            if claimed is None:
                return self._conflict("resume")
            self._observe_resume(resume.wait, reason, requested_at)
            self._events.emit(
                event(claimed, "execution.resumed", S.RUNNING, node_id=claimed.current_node_id),
            )
            await self._run(claimed, workflow)

    async def _decide(
        self, resume: Resume, workflow: PreparedWorkflow, reason: str
    ) -> Claimed | None:
        """Apply the wait's rule — its node type's, or the engine's for a retry back-off —
        and, when it decides, claim the run; None when the wait stays open or it moved on.
        The pinned workflow comes from the cache, normally: no round trip."""
        decide = partial(resume.decide, owner=self._owner, lease_seconds=self._lease)
        if resume.wait.kind == "retry":
            return await decide({"outcome": "retry_due"}) if reason == "timer_due" else None
        node_type = workflow.node(resume.node_id).node_type
        decision = await node_type.settle(resume.conn, resume.wait, reason)
        if decision is None:
            return None
        return await decide(decision, wait_status=node_type.wait_status(decision))

    async def _resume_in_one_statement(
        self,
        resumes: FusedResumes,
        execution_id: uuid.UUID,
        wait_id: uuid.UUID,
        reason: str,
        requested_at: datetime | None,
    ) -> None:
        """An event wait's or an approval gate's resume on PostgreSQL: settled, decided and
        claimed in one statement shared with the resumes that arrive together
        (shared/state_machine/fused_resume_pg.py)."""
        with log_context(execution_id=str(execution_id)):
            resumed = await resumes.claim(
                execution_id, wait_id, owner=self._owner, lease_seconds=self._lease, now=utcnow()
            )
            if resumed is None:
                return self._conflict("resume")
            claimed, completed = resumed.claimed, resumed.completed
            wait = completed or claimed.wait
            assert wait is not None
            self._observe_resume(wait, reason, requested_at)
            if completed is None:
                self._events.emit(
                    event(claimed, "execution.resumed", S.RUNNING, node_id=claimed.current_node_id),
                )
            else:
                # The statement completed the wait's node too; the run goes on from the next.
                node_id = resumed.node_id
                self._events.emit(
                    event(claimed, "execution.resumed", S.RUNNING, node_id=node_id),
                    event(claimed, "node.completed", S.RUNNING, node_id=node_id,
                          node_type=resumed.node_type, attempt=resumed.attempt, duration_ms=0),
                )  # fmt: skip
            await self._run(claimed)

    async def event_arrived(self, message: EventArrived) -> None:
        """An event came while the gateway saw no open wait for its node: resume the wait
        if it has opened since. One that opens later settles on the event by itself."""
        async with self._engine.connect() as conn:
            wait_id = await conn.scalar(
                select(Wait.id).where(
                    Wait.execution_id == message.execution_id,
                    Wait.node_id == message.node_id,
                    Wait.kind == "event",
                    Wait.status == WaitStatus.OPEN,
                )
            )
        if wait_id is not None:
            await self.resume(
                message.execution_id, wait_id, "event", requested_at=message.requested_at
            )

    async def cancel(self, execution_id: uuid.UUID, reason: str) -> None:
        with log_context(execution_id=str(execution_id)):
            row = await end.cancel(self._engine, execution_id, reason=reason, owner=self._owner)
            if row is None:
                return self._conflict("cancel")
            self._ended(row, S.CANCELLED)

    async def give_up(self, message: Message, error: Exception) -> None:
        """A run, retry or resume message failed on its last delivery: fail the execution with
        the reason, rather than leave it queued or paused, unseen, once the message is
        dead-lettered."""
        reason = f"no executor could run it, on any delivery of its message: {error!r}"[:2000]
        if isinstance(message, RunExecution | RetryExecution):
            failing = end.fail_undeliverable(
                self._engine, message.execution_id, error=reason, owner=self._owner
            )
        elif isinstance(message, ResumeExecution):
            failing = end.fail_unresumable(
                self._engine, message.execution_id, message.wait_id, error=reason, owner=self._owner
            )
        else:
            return
        with log_context(execution_id=str(message.execution_id)):
            row = await failing
            if row is not None:
                log.error("execution_given_up", error=reason)
                self._ended(row, S.FAILED, error=reason)

    def _ended(self, row: Row[Any], status: S, **fields: Any) -> None:
        """Tell of an execution that a handler ended itself (not by a node's checkpoint)."""
        self._events.emit(
            execution_event(
                f"execution.{status.value}",
                status,
                execution_id=row.id,
                workflow_id=row.workflow_id,
                workspace_id=row.workspace_id,
                **fields,
            ),
        )
        self._metrics.executions_finished.labels(
            workflow_id=str(row.workflow_id), status=status
        ).inc()

    async def _run(self, claimed: Claimed, workflow: PreparedWorkflow | None = None) -> None:
        with log_context(workflow_id=str(claimed.workflow_id)):
            if workflow is None:
                try:
                    workflow = await self._definitions.get(
                        claimed.workflow_id, claimed.workflow_version
                    )
                except Exception as e:
                    # Nobody runs it now: the message's next delivery may claim it at once.
                    with contextlib.suppress(Exception):
                        await lease.let_go(self._engine, claimed, owner=self._owner, error=e)
                    raise
            await self._runner.run(claimed, workflow)

    def _observe_resume(self, wait: WaitRecord, reason: str, requested_at: datetime | None) -> None:
        """Resume latency: from when the wait could go on (a timer due, a fact recorded)."""
        since = wait.expires_at if reason in ("timer_due", "expired") else requested_at
        if since is not None:
            latency = max((utcnow() - since).total_seconds(), 0.0)
            self._metrics.resume_latency.labels(kind=wait.kind).observe(latency)

    def _conflict(self, stage: str) -> None:
        self._metrics.claim_conflicts.labels(stage=stage).inc()
        log.debug("claim_not_taken", stage=stage)

"""Running a claimed execution node by node, with a checkpoint after each.

The runner never decides whether it owns the execution: the claim did, and every checkpoint
re-checks it. When a checkpoint is refused (StaleVersion) the runner stops at once.
"""

import asyncio
import contextlib
import time
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.executor.backoff import backoff_seconds
from services.executor.conditional import decided_step, error_record
from services.executor.definitions import PreparedNode, PreparedWorkflow
from services.executor.events import Events, event, node_event
from services.executor.lease_heartbeat import lease_heartbeat, uncancel
from services.executor.node_outputs import checked_output
from services.executor.nodes.base import Completed, Failed, NodeCall, NodeResult, NodeServices, Wait
from services.executor.progress import RunProgress
from services.executor.steps import InterruptedTooOften, start_step
from shared import context_size
from shared.broker.base import Broker
from shared.broker.topology import RESUME
from shared.conditions import Condition
from shared.context import ExecutionContext
from shared.db.errors import is_transient
from shared.db.types import utcnow
from shared.errors import StaleVersion, TemplateError
from shared.esign.cancel import request_cancellation
from shared.logging import log_context
from shared.messages import Message, ResumeExecution
from shared.metrics import Metrics, series_by_labels
from shared.outbox import publish_staged
from shared.state_machine import checkpoint as checkpoints
from shared.state_machine.checkpoint import Checkpoint, StepRecord
from shared.state_machine.checkpoint_pg import CheckpointWriter
from shared.state_machine.claim import unless_claim_vanished
from shared.state_machine.claimed import Claimed
from shared.state_machine.lease import let_go, release
from shared.state_machine.waits import CheckpointWrites, WaitSpec
from shared.status import ExecutionStatus as S
from shared.status import StepStatus
from shared.step_summary import summarize

log = structlog.get_logger(__name__)


class LostClaim(Exception):
    """The lease heartbeat found the execution moved on; the node in progress is abandoned."""


class Runner:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        broker: Broker,
        events: Events,
        services: NodeServices,
        metrics: Metrics,
        owner: str,
        lease_seconds: float,
        interrupt_budget: int = 5,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self._broker = broker
        self._events = events
        self._services = services
        self._metrics = metrics
        self._owner = owner
        self._lease_seconds = lease_seconds
        #: Interrupted attempts of one side-effecting node before it is not started again:
        #: the message's delivery limit, so a lease re-dispatch counts as a redelivery does.
        self._budget = interrupt_budget
        self._checkpoints = (
            CheckpointWriter(engine, owner=owner) if engine.dialect.name == "postgresql" else None
        )
        self._draining = False
        self._node_duration = series_by_labels(metrics.node_duration)
        #: Runs in progress by the task running them; the subset inside a node call, and
        #: those abandon() interrupted.
        self._runs: dict[asyncio.Task[Any], RunProgress] = {}
        self._in_node: set[asyncio.Task[Any]] = set()
        self._abandoned: set[asyncio.Task[Any]] = set()

    async def run(self, claimed: Claimed, workflow: PreparedWorkflow) -> None:
        """Run from the claim's current node until the execution completes, pauses or fails,
        or — once `drain()` was called — until the next node boundary, then hand it back."""
        run = RunProgress.of(claimed)
        index = workflow.index_of(run.current_node_id)
        task = asyncio.current_task()
        assert task is not None
        hand_back = False
        self._runs[task] = run
        try:
            async with lease_heartbeat(
                self._engine, run, owner=self._owner, lease_seconds=self._lease_seconds
            ):
                try:
                    while index < len(workflow.nodes):
                        # A resumed node runs here first: its decided wait lives only in this
                        # run, so handing it back before `resume` ran would lose it.
                        if self._draining and run.wait is None:
                            hand_back = True
                            break
                        node = workflow.nodes[index]
                        next_id = (
                            workflow.nodes[index + 1].id
                            if index + 1 < len(workflow.nodes)
                            else None
                        )
                        if not await self._run_node(run, node, next_id, workflow.event_node_ids):
                            return
                        index += 1
                        run.next_node()
                except (StaleVersion, LostClaim) as e:
                    if task in self._abandoned:
                        hand_back = True
                    else:
                        await unless_claim_vanished(self._engine, run.claimed)
                        self._metrics.claim_conflicts.labels(stage="checkpoint").inc()
                        log.info("claim_lost", reason=str(e))
        except Exception as e:
            # Nobody runs it now: the message's next delivery may claim it at once.
            with contextlib.suppress(Exception):
                await let_go(self._engine, run, owner=self._owner, error=e)
            raise
        finally:
            del self._runs[task]
            self._abandoned.discard(task)
        if hand_back:
            await self._hand_back(run)

    def drain(self) -> None:
        """Stop every run at its next node boundary (the node in progress finishes)."""
        self._draining = True

    def abandon(self) -> int:
        """Interrupt the nodes still running after the grace period; their runs are handed
        back at once (the node re-runs elsewhere with the same idempotency key)."""
        interrupted = 0
        for task, run in self._runs.items():
            if task in self._in_node and run.wait is None and task not in self._abandoned:
                self._abandoned.add(task)
                task.cancel()
                interrupted += 1
        return interrupted

    async def _hand_back(self, run: RunProgress) -> None:
        staged = await release(self._engine, run, owner=self._owner)
        if staged is None:
            await unless_claim_vanished(self._engine, run.claimed)
            log.info("release_skipped", reason="the execution moved on")
            return
        self._metrics.executions_released.inc()
        log.info("execution_released", current_node_id=run.current_node_id)
        await publish_staged(self._sessions, self._broker, [staged])

    async def _run_node(
        self, run: RunProgress, node: PreparedNode, next_id: str | None, event_nodes: frozenset[str]
    ) -> bool:
        """Run one node and checkpoint it; True when the execution goes on to `next_id`."""
        with log_context(node_id=node.id):
            return await self._node(run, node, next_id, event_nodes)

    async def _node(
        self, run: RunProgress, node: PreparedNode, next_id: str | None, event_nodes: frozenset[str]
    ) -> bool:
        started_at = utcnow()
        clock = time.perf_counter()
        step_id = run.open_step_id
        resuming = run.wait is not None
        condition: Condition | None = None
        if not resuming and node.when is not None:
            # Against the checkpointed context, before any write: a worker that dies before
            # the skip's checkpoint leaves the same context, so its successor decides alike.
            try:
                condition = Condition(
                    node.when, self._node_call(run, node, event_nodes).render(node.when)
                )
            except TemplateError as e:
                failed = Failed(f"when: {e}", kind="template")
                step = self._decided(run, node, started_at, clock, failed)
                return await self._failed(run, node, failed, step, None, next_id)
            if not condition.holds:
                step = self._decided(run, node, started_at, clock, condition)
                context = run.context.with_skip(node.id)
                return await self._went_on(run, node, context, step, None, next_id)
        if not resuming:
            # The row first, then the event: a live stream that reads the steps when the
            # event arrives then finds the running attempt.
            if node.node_type.side_effects:
                try:
                    step_id = await start_step(
                        self._engine,
                        run,
                        node.id,
                        node.type_name,
                        owner=self._owner,
                        budget=self._budget,
                    )
                except InterruptedTooOften as e:
                    failed = Failed(str(e), retryable=False)
                    step = self._decided(run, node, started_at, clock, failed)
                    return await self._failed(run, node, failed, step, None, next_id)
            self._events.emit(node_event(run, node, "node.started", S.RUNNING))
        task = asyncio.current_task()
        assert task is not None
        self._in_node.add(task)
        try:
            result = await self._call(run, node, event_nodes)
        finally:
            self._in_node.discard(task)
        encoded_output, result = checked_output(node.id, result, run, self._services.settings)
        duration = time.perf_counter() - clock
        self._node_duration(node.type_name, type(result).__name__.lower()).observe(duration)
        step = StepRecord(
            node_id=node.id,
            node_type=node.type_name,
            attempt=run.attempt,
            status=StepStatus.COMPLETED,
            started_at=started_at,
            completed_at=utcnow(),
            duration_ms=round(duration * 1000),
            condition=condition.record() if condition is not None else None,
        )
        if isinstance(result, Completed):
            return await self._completed(run, node, result, step, step_id, next_id, encoded_output)
        if isinstance(result, Wait):
            await self._paused(run, node, result, step, step_id, encoded_output)
            return False
        return await self._failed(run, node, result, step, step_id, next_id)

    def _decided(
        self,
        run: RunProgress,
        node: PreparedNode,
        started_at: datetime,
        clock: float,
        outcome: Condition | Failed,
    ) -> StepRecord:
        duration = time.perf_counter() - clock
        step = decided_step(run, node, started_at=started_at, duration=duration, outcome=outcome)
        self._node_duration(node.type_name, step.status).observe(duration)
        return step

    async def _went_on(
        self,
        run: RunProgress,
        node: PreparedNode,
        context: ExecutionContext,
        step: StepRecord,
        step_id: int | None,
        next_id: str | None,
        outbox: list[tuple[str, Message]] | None = None,
        writes: CheckpointWrites | None = None,
        measured: dict[str, int] | None = None,
    ) -> bool:
        """Checkpoint a node the run goes on past: completed, skipped, or failed with
        `on_error: continue` (`node.<step status>`). True when there is a next node.
        `measured`: the encoded size of the node's output, when it added one."""
        finished = next_id is None
        checkpoint = Checkpoint(
            context=context,
            current_node_id=node.id if finished else next_id,
            status=S.COMPLETED if finished else S.RUNNING,
            step=step,
            step_id=step_id,
            reason="every node completed" if finished else None,
            outbox=list(outbox or ()),
            writes=writes,
        )
        await self._commit(run, checkpoint, measured)
        name = f"node.{step.status}"
        events = [
            node_event(run, node, name, S.RUNNING, duration_ms=step.duration_ms, error=step.error)
        ]
        if finished:
            events.append(event(run, "execution.completed", S.COMPLETED))
            self._metrics.executions_finished.labels(
                workflow_id=str(run.workflow_id), status=S.COMPLETED
            ).inc()
        self._events.emit(*events)
        return not finished

    def _node_call(
        self, run: RunProgress, node: PreparedNode, event_nodes: frozenset[str]
    ) -> NodeCall:
        return NodeCall(
            execution_id=run.execution_id,
            workflow_id=run.workflow_id,
            workspace_id=run.workspace_id,
            node_id=node.id,
            attempt=run.attempt,
            config=node.config,
            context=run.context,
            trigger_data=run.trigger_data,
            services=self._services,
            event_node_ids=event_nodes,
        )

    async def _call(
        self, run: RunProgress, node: PreparedNode, event_nodes: frozenset[str]
    ) -> NodeResult:
        call = self._node_call(run, node, event_nodes)
        try:
            if run.wait is not None:
                return await node.node_type.resume(call, run.wait)
            return await node.node_type.run(call)
        except TemplateError as e:
            return Failed(f"template error: {e}", retryable=False, kind="template")
        except asyncio.CancelledError:
            if run.lost:
                uncancel()
                raise LostClaim("lease lost while the node ran") from None
            if asyncio.current_task() in self._abandoned:
                uncancel()
                raise LostClaim("interrupted: the worker is stopping") from None
            raise
        except Exception as e:  # a bug in a node must fail the run, not the worker
            if is_transient(e):
                # The database went away under the node's own statements: an outage, not the
                # node's failure. The message stays in hand and the node runs again (with the
                # same idempotency key) once the database is back.
                raise
            log.exception("node_raised")
            return Failed(f"{type(e).__name__}: {e}", retryable=False, kind="internal")

    async def _completed(
        self,
        run: RunProgress,
        node: PreparedNode,
        result: Completed,
        step: StepRecord,
        step_id: int | None,
        next_id: str | None,
        encoded_output: bytes | None,
    ) -> bool:
        context = (result.context or run.context).with_output(node.id, result.output)
        summarized = _with(step, output_summary=summarize(result.output, encoded_output))
        return await self._went_on(
            run,
            node,
            context,
            summarized,
            step_id,
            next_id,
            result.outbox,
            result.writes,
            _measured(node, encoded_output),
        )

    async def _paused(
        self,
        run: RunProgress,
        node: PreparedNode,
        result: Wait,
        step: StepRecord,
        step_id: int | None,
        encoded_output: bytes | None,
    ) -> None:
        spec, output = result.spec, result.output
        context = run.context if output is None else run.context.with_output(node.id, output)
        checkpoint = Checkpoint(
            context=context,
            current_node_id=node.id,
            status=S.PAUSED,
            step=_with(step, status=StepStatus.WAITING, completed_at=None, duration_ms=None),
            step_id=step_id,
            wait=spec,
            reason=f"waiting on {spec.kind}",
            outbox=[*result.outbox, *_settle_on_open(run, spec)],
            writes=result.writes,
        )
        await self._commit(run, checkpoint, _measured(node, encoded_output))
        self._events.emit(
            node_event(run, node, "node.waiting", S.PAUSED),
            event(run, "execution.paused", S.PAUSED, node_id=node.id),
        )

    async def _failed(
        self,
        run: RunProgress,
        node: PreparedNode,
        result: Failed,
        step: StepRecord,
        step_id: int | None,
        next_id: str | None,
    ) -> bool:
        """Retry, fail the run, or — `on_error: continue`, retries spent — go on to `next_id`
        (True). A wait's decision keeps its node type's own rules (on_reject, on_timeout)."""
        failed_step = _with(step, status=StepStatus.FAILED, error=result.error)
        retry = result.retryable and run.attempt < node.retry.max_attempts
        if not retry and node.on_error == "continue" and run.wait is None:
            log.info("node_failed_run_goes_on", error=result.error)
            context = run.context.with_error(node.id, error_record(result, run.attempt))
            return await self._went_on(run, node, context, failed_step, step_id, next_id)
        if retry:
            delay = backoff_seconds(node.retry, run.attempt)
            due = utcnow() + timedelta(seconds=delay)
            checkpoint = Checkpoint(
                context=run.context,
                current_node_id=node.id,
                status=S.PAUSED,
                step=failed_step,
                step_id=step_id,
                wait=WaitSpec(
                    kind="retry",
                    expires_at=due,
                    rule={"attempt": run.attempt + 1, "due_at": due.isoformat()},
                ),
                reason=f"retrying {node.id} in {delay:.2f}s after attempt {run.attempt}",
            )
        else:
            error = (
                f"node {node.id!r} ({node.type_name}) failed on attempt {run.attempt}: "
                f"{result.error}"
            )
            checkpoint = Checkpoint(
                context=run.context,
                current_node_id=node.id,
                status=S.FAILED,
                step=failed_step,
                step_id=step_id,
                error=error,
                # A signature request the run leaves open is cancelled at its provider.
                writes=partial(
                    request_cancellation,
                    execution_id=run.execution_id,
                    reason=f"the execution failed: {error}",
                ),
            )
        await self._commit(run, checkpoint)
        events = [node_event(run, node, "node.failed", checkpoint.status, error=result.error)]
        if retry:
            events.append(event(run, "execution.paused", S.PAUSED, node_id=node.id))
        else:
            events.append(event(run, "execution.failed", S.FAILED, error=checkpoint.error))
            self._metrics.executions_finished.labels(
                workflow_id=str(run.workflow_id), status=S.FAILED
            ).inc()
        self._events.emit(*events)
        return False

    async def _commit(
        self, run: RunProgress, checkpoint: Checkpoint, measured: dict[str, int] | None = None
    ) -> None:
        async with run.write_lock:
            committed = await checkpoints.commit(
                self._engine,
                run,
                checkpoint,
                owner=self._owner,
                writer=self._checkpoints,
            )
            run.checkpointed(
                committed.version,
                checkpoint.context,
                checkpoint.current_node_id,
                holding=checkpoint.status == S.RUNNING,
                measured=measured,
            )
        if committed.staged:
            await publish_staged(self._sessions, self._broker, committed.staged)


def _settle_on_open(run: RunProgress, spec: WaitSpec) -> list[tuple[str, Message]]:
    if not spec.settle_on_open:
        return []
    message = ResumeExecution(
        execution_id=run.execution_id,
        wait_id=spec.id,
        reason=spec.opened_reason,
        requested_at=utcnow(),
    )
    return [(RESUME, message)]


def _measured(node: PreparedNode, encoded_output: bytes | None) -> dict[str, int] | None:
    """The output's encoded size by node id: encoded once to check it, not again to count it."""
    size = None if encoded_output is None else context_size.as_measured(encoded_output)
    return None if size is None else {node.id: size}


def _with(step: StepRecord, **changes: Any) -> StepRecord:
    return replace(step, **changes)

"""Execution events, published after the commit they describe, best effort."""

import asyncio
import logging
import uuid
from typing import Any

import structlog

from services.executor.definitions import PreparedNode
from services.executor.progress import RunProgress
from shared.broker.base import Broker
from shared.db.types import utcnow
from shared.messages import ExecutionEvent
from shared.state_machine.claimed import Claimed

log = structlog.get_logger(__name__)

#: How long emitted events wait for others to share their broker messages. Events only wake
#: live streams (which then read the steps table), so 20 ms is not seen; each broker message
#: costs the executor and RabbitMQ more than the events in it. Against 5 ms, this measured about
#: 5 % less executor CPU and 15 % less broker CPU per transition (bench/executor_cpu.py).
LINGER_SECONDS = 0.02


def execution_event(
    name: str,
    status: str,
    *,
    execution_id: uuid.UUID,
    workflow_id: uuid.UUID,
    workspace_id: uuid.UUID,
    **fields: Any,
) -> ExecutionEvent:
    # Validated, not model_construct(): pydantic-core's validation is faster than
    # model_construct's Python loop over the fields and their defaults.
    return ExecutionEvent(
        event=name,
        execution_id=execution_id,
        workflow_id=workflow_id,
        workspace_id=workspace_id,
        status=status,
        at=utcnow(),
        **fields,
    )


def event(run: Claimed | RunProgress, name: str, status: str, **fields: Any) -> ExecutionEvent:
    return execution_event(
        name,
        status,
        execution_id=run.execution_id,
        workflow_id=run.workflow_id,
        workspace_id=run.workspace_id,
        **fields,
    )


class Events:
    """The worker's outgoing execution events: emitted without waiting, published together.

    Every event emitted during one turn of the event loop goes out in one publish (one broker
    message per event name): per event, an AMQP message costs more CPU than the checkpoint it
    describes. Events stay best effort and after their commit: `emit` is called once the
    checkpoint committed, and publishing starts on the loop's next turn.
    """

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._pending: list[ExecutionEvent] = []
        self._publishing: asyncio.Task[None] | None = None
        # Read once: asking structlog per event re-binds its logger each time.
        self._log_info = log.is_enabled_for(logging.INFO)

    def emit(self, *events: ExecutionEvent) -> None:
        for item in events:
            _log(item, info=self._log_info)
        self._pending.extend(events)
        if self._publishing is None:
            self._publishing = asyncio.get_running_loop().create_task(self._publish())

    async def _publish(self) -> None:
        try:
            await asyncio.sleep(LINGER_SECONDS)
            # Events emitted while a batch is on its way form the next batch.
            while self._pending:
                batch, self._pending = self._pending, []
                await self._broker.publish_events(batch)
        finally:
            self._publishing = None

    async def flush(self) -> None:
        """Return once every event emitted so far was handed to the broker."""
        while self._publishing is not None:
            await asyncio.shield(self._publishing)


def _log(item: ExecutionEvent, *, info: bool) -> None:
    """Every event is also a log line (`node_completed`, `execution_paused`, …); `info` says
    whether info lines are logged at all."""
    failed = item.event.endswith("failed")
    # Two events per node: skip building the line when its level is filtered out anyway.
    if not failed and not info:
        return
    details = item.model_dump(
        include={"status", "node_type", "attempt", "duration_ms", "error"}, exclude_none=True
    )
    ids = {"execution_id": str(item.execution_id), "workflow_id": str(item.workflow_id)}
    if item.node_id is not None:
        ids["node_id"] = item.node_id
    method = log.warning if failed else log.info
    method(item.event.replace(".", "_"), **ids, **details)


def node_event(
    run: RunProgress, node: PreparedNode, name: str, status: str, **fields: Any
) -> ExecutionEvent:
    """An event about the node this claim's current attempt runs."""
    return event(
        run,
        name,
        status,
        node_id=node.id,
        node_type=node.type_name,
        attempt=run.attempt,
        **fields,
    )

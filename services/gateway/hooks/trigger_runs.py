"""Runs started by provider events (HubSpot, Standard Webhooks): which workflows an event
starts, and the queued execution with its run message, inside the caller's transaction so the
event's inbox row and its runs commit together or not at all."""

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.broker import topology
from shared.context import ExecutionContext, snapshot
from shared.db.tables import Execution, ExecutionTransition, Workflow, WorkflowVersion
from shared.db.types import utcnow
from shared.messages import RunExecution
from shared.nodes.core import TriggerConfig
from shared.outbox import Staged, stage
from shared.status import ExecutionStatus


@dataclass(frozen=True)
class TriggeredWorkflow:
    workflow_id: uuid.UUID
    workspace_id: uuid.UUID
    version: int
    trigger: TriggerConfig


def _trigger_of(definition: dict[str, Any]) -> TriggerConfig | None:
    nodes = sorted(definition.get("nodes", []), key=lambda node: node.get("position", 0))
    if not nodes or nodes[0].get("type") != "trigger":
        return None
    try:
        return TriggerConfig.model_validate(nodes[0].get("config", {}))
    except ValidationError:
        # Saved definitions were validated; one that no longer parses starts nothing.
        return None


def _current_versions() -> Any:
    return select(
        Workflow.id, Workflow.workspace_id, WorkflowVersion.version, WorkflowVersion.definition
    ).join(
        WorkflowVersion,
        (WorkflowVersion.workflow_id == Workflow.id)
        & (WorkflowVersion.version == Workflow.current_version),
    )


async def triggered_workflows(
    session: AsyncSession, workspace_id: uuid.UUID, source: str
) -> list[TriggeredWorkflow]:
    """The workspace's workflows whose current version starts on `source`."""
    rows = await session.execute(_current_versions().where(Workflow.workspace_id == workspace_id))
    found = []
    for row in rows:
        trigger = _trigger_of(row.definition)
        if trigger is not None and trigger.source == source:
            found.append(TriggeredWorkflow(row.id, row.workspace_id, row.version, trigger))
    return found


async def workflow_trigger(
    session: AsyncSession, workflow_id: uuid.UUID
) -> TriggeredWorkflow | None:
    row = (await session.execute(_current_versions().where(Workflow.id == workflow_id))).first()
    if row is None:
        return None
    trigger = _trigger_of(row.definition) or TriggerConfig()
    return TriggeredWorkflow(row.id, row.workspace_id, row.version, trigger)


async def queue_run(
    session: AsyncSession,
    workflow: TriggeredWorkflow,
    trigger_data: dict[str, Any],
    *,
    idempotency_key: str,
    reason: str,
) -> tuple[uuid.UUID, Staged]:
    """A queued execution pinned to the workflow's current version, and its run message."""
    now = utcnow()
    execution_id = uuid.uuid4()
    session.add(
        Execution(
            id=execution_id,
            workspace_id=workflow.workspace_id,
            workflow_id=workflow.workflow_id,
            workflow_version=workflow.version,
            status=ExecutionStatus.QUEUED.value,
            version=0,
            context=snapshot(ExecutionContext()),
            trigger_data=trigger_data,
            idempotency_key=idempotency_key,
            created_at=now,
        )
    )
    await session.flush()
    session.add(
        ExecutionTransition(
            execution_id=execution_id,
            from_status=None,
            to_status=ExecutionStatus.QUEUED.value,
            reason=reason,
            at=now,
        )
    )
    staged = await stage(session, topology.RUN, RunExecution(execution_id=execution_id))
    return execution_id, staged


async def execution_for_key(
    session: AsyncSession, workflow_id: uuid.UUID, idempotency_key: str
) -> uuid.UUID | None:
    """The run an earlier delivery of the same event started."""
    found: uuid.UUID | None = await session.scalar(
        select(Execution.id).where(
            Execution.workflow_id == workflow_id, Execution.idempotency_key == idempotency_key
        )
    )
    return found

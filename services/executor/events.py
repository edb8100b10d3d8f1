"""Execution events, published after the commit they describe, best effort."""

import uuid
from typing import Any

from services.executor.claims import Claim
from shared.broker.base import Broker
from shared.db.types import utcnow
from shared.messages import ExecutionEvent


def execution_event(
    name: str,
    status: str,
    *,
    execution_id: uuid.UUID,
    workflow_id: uuid.UUID,
    workspace_id: uuid.UUID,
    **fields: Any,
) -> ExecutionEvent:
    return ExecutionEvent(
        event=name,
        execution_id=execution_id,
        workflow_id=workflow_id,
        workspace_id=workspace_id,
        status=status,
        at=utcnow(),
        **fields,
    )


def event(claim: Claim, name: str, status: str, **fields: Any) -> ExecutionEvent:
    return execution_event(
        name,
        status,
        execution_id=claim.execution_id,
        workflow_id=claim.workflow_id,
        workspace_id=claim.workspace_id,
        **fields,
    )


async def emit(broker: Broker, *events: ExecutionEvent) -> None:
    for item in events:
        await broker.publish_event(item)

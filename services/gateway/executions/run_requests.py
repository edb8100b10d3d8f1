"""Accepting a run request: a queued execution pinned to the workflow's current version, its
first transition and its run message, committed together before the 202.

The gateway's hottest write: one round trip on PostgreSQL (see run_request_sql.py), the ORM
nowhere on the way. The version is read inside the insert, so a PUT committed before the run
request is always seen, and a run never pins a stale version.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.executions.run_request_sql import RunInserts
from shared.broker import topology
from shared.context import ExecutionContext, snapshot
from shared.db.tables import Execution
from shared.db.types import utcnow
from shared.errors import DocflowError, NotFound
from shared.messages import RunExecution
from shared.outbox import Staged
from shared.status import ExecutionStatus

REASON = "requested over the API"
_EXECUTIONS = cast(Table, Execution.__table__)


class IdempotencyKeyReused(DocflowError):
    """The key came before with another body: one key means one request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was used before with another body; a key names one request"
        )


@dataclass(frozen=True)
class Queued:
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    #: `queued` for a new run; the first run's status when its idempotency key came again.
    status: str
    #: None when an earlier request with the same idempotency key already queued it.
    staged: Staged | None


async def queue_execution(
    runs: RunInserts,
    workspace_id: uuid.UUID,
    workflow_id: uuid.UUID,
    trigger_data: dict[str, Any],
    idempotency_key: str | None,
) -> Queued:
    """Queue a run of the workflow's current version; a repeated idempotency key returns the
    first run instead, also when two requests with it race."""
    execution_id = uuid.uuid4()
    message = RunExecution(execution_id=execution_id)
    inserted = await runs.insert(
        {
            "execution_id": execution_id,
            "workspace_id": workspace_id,
            "workflow_id": workflow_id,
            "status": ExecutionStatus.QUEUED.value,
            "context": snapshot(ExecutionContext()),
            "trigger_data": trigger_data,
            "idempotency_key": idempotency_key,
            "request_sha256": request_sha256(trigger_data),
            "now": utcnow(),
            "reason": REASON,
            "queue": topology.RUN,
            "body": message.model_dump(mode="json"),
        },
    )
    if inserted is not None:
        staged = Staged(inserted.outbox_id, topology.RUN, message)
        return Queued(
            execution_id,
            workflow_id,
            inserted.workflow_version,
            ExecutionStatus.QUEUED.value,
            staged,
        )
    # Nothing inserted: the key was used before (that run is committed by now: a racing insert
    # waits for its twin's commit), or the workflow is not this workspace's.
    if idempotency_key is not None:
        earlier = await _by_idempotency_key(runs.engine, workspace_id, workflow_id, idempotency_key)
        if earlier is not None:
            queued, earlier_sha256 = earlier
            if earlier_sha256 not in (None, request_sha256(trigger_data)):
                raise IdempotencyKeyReused(idempotency_key)
            return queued
    raise NotFound("workflow", workflow_id)


def request_sha256(trigger_data: dict[str, Any]) -> str:
    """The body's fingerprint: key order and spacing do not make another request."""
    canonical = json.dumps(trigger_data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _by_idempotency_key(
    engine: AsyncEngine, workspace_id: uuid.UUID, workflow_id: uuid.UUID, key: str
) -> tuple[Queued, str | None] | None:
    """The run the key asked for first, and the fingerprint of the body it came with."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    _EXECUTIONS.c.id,
                    _EXECUTIONS.c.workflow_version,
                    _EXECUTIONS.c.status,
                    _EXECUTIONS.c.request_sha256,
                ).where(
                    _EXECUTIONS.c.workspace_id == workspace_id,
                    _EXECUTIONS.c.workflow_id == workflow_id,
                    _EXECUTIONS.c.idempotency_key == key,
                )
            )
        ).one_or_none()
    if row is None:
        return None
    return Queued(row.id, workflow_id, row.workflow_version, row.status, None), row.request_sha256

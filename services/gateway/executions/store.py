"""Execution rows as the gateway sees them: it reads them and stages requests (a new run is
inserted by run_requests.py).

The gateway never moves an execution's status; cancel and retry are messages for the
executor, staged in the outbox in the same transaction that read the status.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.common.paging import Cursor
from services.gateway.signatures.requests import signature_requests_of
from shared.broker import topology
from shared.db.tables import (
    Approval,
    Base,
    Execution,
    ExecutionOutput,
    ExecutionStep,
    Wait,
    WaitEvent,
)
from shared.errors import NotFound
from shared.messages import CancelExecution, Message, RetryExecution
from shared.outbox import Staged, stage
from shared.status import FINAL_STATUSES, ExecutionStatus

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class ExecutionDetail:
    execution: Execution
    steps: Sequence[ExecutionStep]
    waits: Sequence[Wait]
    #: Every approver of the execution's approval gates, for the audit.
    approvals: Sequence[Approval] = ()
    #: Each signature request with its signers, shaped for the API already.
    signature_requests: Sequence[dict[str, Any]] = ()
    #: Events delivered to its `event` nodes, accepted or late.
    events: Sequence[WaitEvent] = ()
    #: Its node outputs by node id (stored a row each, out of `execution.context`).
    outputs: dict[str, Any] = field(default_factory=dict)


async def get_execution(
    sessions: Sessions, workspace_id: uuid.UUID, execution_id: uuid.UUID
) -> ExecutionDetail:
    async with sessions() as session:
        execution = await _scoped(session, workspace_id, execution_id)
        steps = await _rows_of(
            session, ExecutionStep, execution_id, ExecutionStep.started_at, ExecutionStep.id
        )
        waits = await _rows_of(session, Wait, execution_id, Wait.created_at, Wait.id)
        approvals = await _rows_of(
            session, Approval, execution_id, Approval.created_at, Approval.position
        )
        signatures = await signature_requests_of(session, execution_id)
        events = await _rows_of(session, WaitEvent, execution_id, WaitEvent.id)
        outputs = await _rows_of(
            session, ExecutionOutput, execution_id, ExecutionOutput.at, ExecutionOutput.node_id
        )
    by_node = {row.node_id: row.output for row in outputs}
    return ExecutionDetail(execution, steps, waits, approvals, signatures, events, by_node)


T = TypeVar("T", bound=Base)


async def _rows_of(
    session: AsyncSession, table: type[T], execution_id: uuid.UUID, *order: Any
) -> Sequence[T]:
    """The execution's rows of `table` (one with an `execution_id` column), in `order`."""
    column = table.execution_id  # type: ignore[attr-defined]  # every table passed has it
    return (
        await session.scalars(select(table).where(column == execution_id).order_by(*order))
    ).all()


async def _scoped(
    session: AsyncSession, workspace_id: uuid.UUID, execution_id: uuid.UUID
) -> Execution:
    execution = await session.scalar(
        select(Execution).where(
            Execution.id == execution_id, Execution.workspace_id == workspace_id
        )
    )
    if execution is None:
        raise NotFound("execution", execution_id)
    return execution


async def list_executions(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    *,
    status: ExecutionStatus | None,
    workflow_id: uuid.UUID | None,
    limit: int,
    after: Cursor | None,
) -> tuple[list[Execution], Cursor | None]:
    """A page, newest first, and the cursor of the next page (None on the last)."""
    query = select(Execution).where(Execution.workspace_id == workspace_id)
    if status is not None:
        query = query.where(Execution.status == status.value)
    if workflow_id is not None:
        query = query.where(Execution.workflow_id == workflow_id)
    if after is not None:
        query = query.where(
            or_(
                Execution.created_at < after.created_at,
                and_(Execution.created_at == after.created_at, Execution.id < after.id),
            )
        )
    query = query.order_by(Execution.created_at.desc(), Execution.id.desc()).limit(limit + 1)
    async with sessions() as session:
        rows = list((await session.scalars(query)).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], Cursor(last.created_at, last.id)


class RequestRefused(Exception):
    """The execution's status does not allow the request; `status` says what it is."""

    def __init__(self, status: ExecutionStatus) -> None:
        super().__init__(status)
        self.status = status


async def request_cancel(
    sessions: Sessions, workspace_id: uuid.UUID, execution_id: uuid.UUID
) -> tuple[ExecutionStatus, Staged]:
    """Stage a cancel for the executor unless the execution is already final."""
    return await _stage_request(
        sessions,
        workspace_id,
        execution_id,
        allowed=lambda status: status not in FINAL_STATUSES,
        message=CancelExecution(execution_id=execution_id),
    )


async def request_retry(
    sessions: Sessions, workspace_id: uuid.UUID, execution_id: uuid.UUID
) -> tuple[ExecutionStatus, Staged]:
    """Stage a retry for the executor; only a failed execution can be retried."""
    return await _stage_request(
        sessions,
        workspace_id,
        execution_id,
        allowed=lambda status: status is ExecutionStatus.FAILED,
        message=RetryExecution(execution_id=execution_id),
    )


async def _stage_request(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    execution_id: uuid.UUID,
    *,
    allowed: Callable[[ExecutionStatus], bool],
    message: Message,
) -> tuple[ExecutionStatus, Staged]:
    async with sessions.begin() as session:
        execution = await _scoped(session, workspace_id, execution_id)
        status = ExecutionStatus(execution.status)
        if not allowed(status):
            raise RequestRefused(status)
        staged = await stage(session, topology.RUN, message)
    return status, staged

"""An execution's progress as an ordered list of events, derived from its durable rows.

Every event has an id `R.P`: R is the step row's id (rows are inserted in the order nodes run)
and P the phase within the row — 0 started, 1 waiting, 2 finished (completed, failed or
interrupted; a skipped node never started, so its row has only `node.skipped`, at phase 2).
The execution's end is `R.3` after its last row. Ids therefore order every event
of one execution, and the events of a row only ever grow, so "everything after id X" is the
same whenever it is asked: a client reconnecting with `Last-Event-ID` misses nothing and sees
nothing twice.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.common.iso import iso
from shared.db.tables import Execution, ExecutionStep, Wait
from shared.errors import NotFound
from shared.status import FINAL_STATUSES, ExecutionStatus

STARTED, WAITING, FINISHED, END = 0, 1, 2, 3

Cursor = tuple[int, int]

#: Step statuses that end an attempt; each is sent as `node.<status>`.
FINISHED_STEP_STATUSES = frozenset({"completed", "failed", "interrupted", "cancelled"})
_STARTED_FIELDS = ("id", "execution_id", "node_id", "node_type", "attempt", "started_at")


@dataclass(frozen=True)
class ProgressEvent:
    cursor: Cursor
    name: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.cursor[0]}.{self.cursor[1]}"


@dataclass(frozen=True)
class Progress:
    execution: Execution
    steps: Sequence[ExecutionStep]
    waits: Sequence[Wait]

    @property
    def finished(self) -> bool:
        return ExecutionStatus(self.execution.status) in FINAL_STATUSES


def parse_cursor(raw: str | None) -> Cursor:
    """`R.P` from Last-Event-ID; anything else starts from the beginning."""
    if not raw:
        return (0, -1)
    row, _, phase = raw.strip().partition(".")
    try:
        return (int(row), int(phase))
    except ValueError:
        return (0, -1)


async def read_progress(
    sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID, execution_id: uuid.UUID
) -> Progress:
    # The execution is read first: a final status is committed with the last step row, so
    # seeing it guarantees the rows read next are all there is.
    async with sessions() as session:
        execution = await session.scalar(
            select(Execution).where(
                Execution.id == execution_id, Execution.workspace_id == workspace_id
            )
        )
        if execution is None:
            raise NotFound("execution", execution_id)
        steps = (
            await session.scalars(
                select(ExecutionStep)
                .where(ExecutionStep.execution_id == execution_id)
                .order_by(ExecutionStep.id)
            )
        ).all()
        waits = (
            await session.scalars(
                select(Wait)
                .where(Wait.execution_id == execution_id, Wait.kind != "retry")
                .order_by(Wait.created_at)
            )
        ).all()
    return Progress(execution, steps, waits)


def events_after(progress: Progress, cursor: Cursor) -> list[ProgressEvent]:
    return [event for event in all_events(progress) if event.cursor > cursor]


def all_events(progress: Progress) -> list[ProgressEvent]:
    events: list[ProgressEvent] = []
    last_row = 0
    for step in progress.steps:
        last_row = step.id
        base = step_view(step)
        if step.status == "skipped":
            events.append(ProgressEvent((step.id, FINISHED), "node.skipped", base))
            continue
        started = {key: base[key] for key in _STARTED_FIELDS}
        events.append(ProgressEvent((step.id, STARTED), "node.started", started))
        wait = _wait_of(step, progress.waits)
        if wait is not None:
            events.append(
                ProgressEvent(
                    (step.id, WAITING), "node.waiting", {**started, "wait": wait_view(wait)}
                )
            )
        if step.status in FINISHED_STEP_STATUSES:
            events.append(ProgressEvent((step.id, FINISHED), f"node.{step.status}", base))
    if progress.finished:
        execution = progress.execution
        events.append(
            ProgressEvent(
                (last_row, END),
                f"execution.{execution.status}",
                {
                    "execution_id": str(execution.id),
                    "status": execution.status,
                    "error": execution.error,
                    "finished_at": iso(execution.finished_at),
                    "execution_time_ms": execution.execution_time_ms,
                },
            )
        )
    return events


def _wait_of(step: ExecutionStep, waits: Sequence[Wait]) -> Wait | None:
    """The wait this attempt opened: same node, opened while the attempt was in progress."""
    for wait in waits:
        opened_during = step.started_at <= wait.created_at and (
            step.completed_at is None or wait.created_at <= step.completed_at
        )
        if wait.node_id == step.node_id and opened_during:
            return wait
    return None


def step_view(step: ExecutionStep) -> dict[str, Any]:
    return {
        "id": step.id,
        "execution_id": str(step.execution_id),
        "node_id": step.node_id,
        "node_type": step.node_type,
        "attempt": step.attempt,
        "status": step.status,
        "started_at": iso(step.started_at),
        "completed_at": iso(step.completed_at),
        "duration_ms": step.duration_ms,
        "error": step.error,
        "output_summary": step.output_summary,
        "condition": step.condition,
    }


def wait_view(wait: Wait) -> dict[str, Any]:
    return {
        "id": str(wait.id),
        "kind": wait.kind,
        "status": wait.status,
        "rule": wait.rule,
        "expires_at": iso(wait.expires_at),
        "created_at": iso(wait.created_at),
    }

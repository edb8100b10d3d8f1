"""The executions list's query: the API's filters plus a window on when runs started."""

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.common.paging import Cursor, decode_cursor
from services.gateway.common.problems import Problem
from shared.db.tables import Execution, Workflow
from shared.status import ExecutionStatus

PAGE_SIZE = 25


@dataclass(frozen=True)
class Filters:
    status: ExecutionStatus | None = None
    workflow_id: uuid.UUID | None = None
    #: Inclusive bounds on `created_at` (when the run was requested), as dates or times.
    started_from: datetime | None = None
    started_to: datetime | None = None
    after: Cursor | None = None
    #: What the form showed, so a page keeps its filters (bad values are dropped).
    raw: dict[str, str] | None = None


@dataclass(frozen=True)
class Row:
    execution: Execution
    workflow_name: str


def filters_of(request: web.Request) -> Filters:
    """Unreadable values are ignored: a form should not answer an error page for a typo."""
    query = request.query
    status = None
    if query.get("status") in ExecutionStatus.__members__.values():
        status = ExecutionStatus(query["status"])
    workflow_id = _uuid(query.get("workflow_id", ""))
    after = None
    if query.get("cursor"):
        # A stale or edited cursor starts from the top.
        with contextlib.suppress(Problem):
            after = decode_cursor(query["cursor"])
    started_from = _moment(query.get("started_from", ""))
    started_to = _moment(query.get("started_to", ""), end_of_day=True)
    raw = {
        "status": status.value if status else "",
        "workflow_id": str(workflow_id) if workflow_id else "",
        "started_from": query.get("started_from", "") if started_from else "",
        "started_to": query.get("started_to", "") if started_to else "",
    }
    return Filters(status, workflow_id, started_from, started_to, after, raw)


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _moment(raw: str, *, end_of_day: bool = False) -> datetime | None:
    """`2026-12-03` or `2026-12-03T10:00` (a `datetime-local` field), read as UTC."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if end_of_day and len(raw) == 10:
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def page_of(
    sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID, filters: Filters
) -> tuple[list[Row], Cursor | None]:
    query = (
        select(Execution, Workflow.name)
        .join(Workflow, Workflow.id == Execution.workflow_id)
        .where(Execution.workspace_id == workspace_id)
    )
    if filters.status is not None:
        query = query.where(Execution.status == filters.status.value)
    if filters.workflow_id is not None:
        query = query.where(Execution.workflow_id == filters.workflow_id)
    if filters.started_from is not None:
        query = query.where(Execution.created_at >= filters.started_from)
    if filters.started_to is not None:
        query = query.where(Execution.created_at <= filters.started_to)
    if filters.after is not None:
        after = filters.after
        query = query.where(
            or_(
                Execution.created_at < after.created_at,
                and_(Execution.created_at == after.created_at, Execution.id < after.id),
            )
        )
    query = query.order_by(Execution.created_at.desc(), Execution.id.desc()).limit(PAGE_SIZE + 1)
    async with sessions() as session:
        rows = [Row(e, name) for e, name in (await session.execute(query)).all()]
    if len(rows) <= PAGE_SIZE:
        return rows, None
    last = rows[PAGE_SIZE - 1].execution
    return rows[:PAGE_SIZE], Cursor(last.created_at, last.id)


async def workflow_names(
    sessions: async_sessionmaker[AsyncSession], workspace_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Workflow.id, Workflow.name)
            .where(Workflow.workspace_id == workspace_id)
            .order_by(Workflow.name)
        )
        return [(r.id, r.name) for r in rows]

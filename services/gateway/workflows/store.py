"""Workflow rows: create, read (any version), list, and save a new version. Workspace-scoped."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.tables import Workflow, WorkflowVersion
from shared.db.types import utcnow
from shared.errors import NotFound
from shared.workflows import WorkflowDefinition


@dataclass(frozen=True)
class WorkflowRecord:
    id: uuid.UUID
    name: str
    version: int
    definition: dict[str, Any]
    created_at: datetime
    #: When this version was saved.
    updated_at: datetime


@dataclass(frozen=True)
class WorkflowSummary:
    id: uuid.UUID
    name: str
    version: int
    created_at: datetime
    updated_at: datetime


Sessions = async_sessionmaker[AsyncSession]


async def create_workflow(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    definition: WorkflowDefinition,
    stored: dict[str, Any] | None = None,
) -> WorkflowRecord:
    """`stored` is what is kept (the definition with its secrets sealed); by default the
    definition as it is."""
    now = utcnow()
    workflow_id = uuid.uuid4()
    stored = stored if stored is not None else definition.model_dump(mode="json")
    async with sessions.begin() as session:
        session.add(
            Workflow(
                id=workflow_id,
                workspace_id=workspace_id,
                name=definition.name,
                current_version=1,
                created_at=now,
                updated_at=now,
            )
        )
        # Flushed first so the version row's foreign key always finds its parent.
        await session.flush()
        session.add(
            WorkflowVersion(workflow_id=workflow_id, version=1, definition=stored, created_at=now)
        )
    return WorkflowRecord(workflow_id, definition.name, 1, stored, now, now)


async def update_workflow(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    workflow_id: uuid.UUID,
    definition: WorkflowDefinition,
    stored: dict[str, Any] | None = None,
) -> WorkflowRecord:
    """Save `definition` (kept as `stored`, as in create_workflow) as the next version.

    The increment is one UPDATE … RETURNING: concurrent saves queue on the row lock, and each
    gets its own version number.
    """
    now = utcnow()
    stored = stored if stored is not None else definition.model_dump(mode="json")
    async with sessions.begin() as session:
        row = (
            await session.execute(
                update(Workflow)
                .where(Workflow.id == workflow_id, Workflow.workspace_id == workspace_id)
                .values(
                    current_version=Workflow.current_version + 1,
                    name=definition.name,
                    updated_at=now,
                )
                .returning(Workflow.current_version, Workflow.created_at)
            )
        ).one_or_none()
        if row is None:
            raise NotFound("workflow", workflow_id)
        session.add(
            WorkflowVersion(
                workflow_id=workflow_id,
                version=row.current_version,
                definition=stored,
                created_at=now,
            )
        )
    return WorkflowRecord(
        workflow_id, definition.name, row.current_version, stored, row.created_at, now
    )


async def get_workflow(
    sessions: Sessions,
    workspace_id: uuid.UUID,
    workflow_id: uuid.UUID,
    version: int | None = None,
) -> WorkflowRecord:
    """The current version, or `version` when given."""
    async with sessions() as session:
        wanted = Workflow.current_version if version is None else version
        row = (
            await session.execute(
                select(
                    Workflow.created_at,
                    WorkflowVersion.version,
                    WorkflowVersion.definition,
                    WorkflowVersion.created_at.label("saved_at"),
                )
                .join(WorkflowVersion, WorkflowVersion.workflow_id == Workflow.id)
                .where(
                    Workflow.id == workflow_id,
                    Workflow.workspace_id == workspace_id,
                    WorkflowVersion.version == wanted,
                )
            )
        ).one_or_none()
    if row is None:
        what = "workflow" if version is None else f"version {version} of workflow"
        raise NotFound(what, workflow_id)
    return WorkflowRecord(
        workflow_id,
        row.definition["name"],
        row.version,
        row.definition,
        row.created_at,
        row.saved_at,
    )


async def list_workflows(sessions: Sessions, workspace_id: uuid.UUID) -> list[WorkflowSummary]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Workflow)
                .where(Workflow.workspace_id == workspace_id)
                .order_by(Workflow.created_at.desc(), Workflow.id.desc())
            )
        ).scalars()
        return [
            WorkflowSummary(w.id, w.name, w.current_version, w.created_at, w.updated_at)
            for w in rows
        ]


async def current_version(
    session: AsyncSession, workspace_id: uuid.UUID, workflow_id: uuid.UUID
) -> int:
    version = await session.scalar(
        select(Workflow.current_version).where(
            Workflow.id == workflow_id, Workflow.workspace_id == workspace_id
        )
    )
    if version is None:
        raise NotFound("workflow", workflow_id)
    return version

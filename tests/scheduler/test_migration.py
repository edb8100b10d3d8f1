"""Migrations 0018 (the open waits' kind index) and 0019 (`waits.last_decided_at` and its
partial index, with a backfill) add what the models describe, and remove it again."""

import asyncio
import uuid
from datetime import datetime, timedelta

from alembic import command
from sqlalchemy import insert, select

from shared.db.migrate import alembic_config
from shared.db.tables import Approval, Execution, Wait
from shared.db.types import utcnow
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.migrations import columns, indexes, schema_state
from tests.scheduler.support import insert_execution, insert_wait


async def test_migration_0018_adds_the_open_kinds_index_and_downgrades_cleanly(
    settings: Settings,
) -> None:
    url = settings.database_url  # at head, on either backend
    _, diffs = await schema_state(url, {"waits"})
    assert diffs == []
    assert "ix_waits_open_kind" in await indexes(url, "waits")

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0017")
    assert "ix_waits_open_kind" not in await indexes(url, "waits")
    assert "ix_waits_status_expires" in await indexes(url, "waits")

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0018")
    assert "ix_waits_open_kind" in await indexes(url, "waits")
    # The models describe head: what later revisions add to `waits` is compared there.
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
    _, diffs = await schema_state(url, {"waits"})
    assert diffs == []


async def test_migration_0019_backfills_the_open_gates_decided_on_and_downgrades_cleanly(
    settings: Settings,
) -> None:
    url = settings.database_url  # at head, on either backend
    _, diffs = await schema_state(url, {"waits"})
    assert diffs == []
    assert "ix_waits_open_gates_last_decided" in await indexes(url, "waits")

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0018")
    assert "last_decided_at" not in await columns(url, "waits")
    assert "ix_waits_open_gates_last_decided" not in await indexes(url, "waits")
    assert "ix_waits_open_kind" in await indexes(url, "waits")

    # Gates as 0018 left them; only open gates with a counted decision get a time.
    early, late = utcnow() - timedelta(minutes=9), utcnow() - timedelta(minutes=3)
    async with open_resources(settings) as resources:
        decided_on = await _gate(resources, [("approved", early), ("rejected", late), PENDING])
        untouched = await _gate(resources, [PENDING, PENDING])
        # A replaced approver's `decided_at` is when they were replaced: no decision.
        only_replaced = await _gate(resources, [("replaced", early), PENDING])
        closed = await _gate(resources, [("approved", early)], status="decided")

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0019")
    assert "ix_waits_open_gates_last_decided" in await indexes(url, "waits")
    _, diffs = await schema_state(url, {"waits"})
    assert diffs == []
    async with open_resources(settings) as resources, resources.sessions() as session:
        rows = (await session.execute(select(Wait.id, Wait.last_decided_at))).all()
    found = {wait_id: at for wait_id, at in rows}
    assert found == {decided_on: late, untouched: None, only_replaced: None, closed: None}


PENDING: tuple[str, datetime | None] = ("pending", None)


async def _gate(
    resources: Resources, approvers: list[tuple[str, datetime | None]], *, status: str = "open"
) -> uuid.UUID:
    """A paused run on an approval gate, its approvers with these statuses and times."""
    execution_id = await insert_execution(resources, status="paused", lease_owner=None)
    wait_id = await insert_wait(
        resources, execution_id, expires_at=None, kind="approval", status=status
    )
    async with resources.sessions.begin() as session:
        workspace_id = await session.scalar(
            select(Execution.workspace_id).where(Execution.id == execution_id)
        )
        for position, (approver_status, decided_at) in enumerate(approvers):
            await session.execute(
                insert(Approval).values(
                    wait_id=wait_id,
                    execution_id=execution_id,
                    workspace_id=workspace_id,
                    node_id="wait",
                    position=position,
                    email=f"approver{position}@example.com",
                    status=approver_status,
                    decided_at=decided_at,
                )
            )
    return wait_id

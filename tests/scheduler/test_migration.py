"""Migrations 0018 (the open waits' kind index) and 0019 (`waits.last_decided_at` and its
partial index, with a backfill) add what the models describe, and remove it again."""

import asyncio
import functools
from datetime import timedelta

from alembic import command
from sqlalchemy import select

from shared.db.migrate import alembic_config
from shared.db.tables import Wait
from shared.db.types import utcnow
from shared.runtime import open_resources
from shared.settings import Settings
from tests.migrations import columns, indexes, schema_state
from tests.scheduler.support import PENDING, insert_gate


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
        gate = functools.partial(insert_gate, resources)
        decided_on = await gate([("approved", early), ("rejected", late), PENDING], required=3)
        untouched = await gate([PENDING, PENDING])
        # A replaced approver's `decided_at` is when they were replaced: no decision.
        only_replaced = await gate([("replaced", early), PENDING])
        closed = await gate([("approved", early)], status="decided")

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0019")
    assert "ix_waits_open_gates_last_decided" in await indexes(url, "waits")
    _, diffs = await schema_state(url, {"waits"})
    assert diffs == []
    async with open_resources(settings) as resources, resources.sessions() as session:
        rows = (await session.execute(select(Wait.id, Wait.last_decided_at))).all()
    found = {wait_id: at for wait_id, at in rows}
    assert found == {
        decided_on.wait_id: late,
        untouched.wait_id: None,
        only_replaced.wait_id: None,
        closed.wait_id: None,
    }

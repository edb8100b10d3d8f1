"""Checkpoints of many runs committed together: each run gets its own outcome.

The writer batches what arrives while earlier batches are on their way; a stale row in a batch
does not stop the others, and a row PostgreSQL refuses fails only its own run.
"""

import asyncio
import dataclasses
import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.context import ExecutionContext, stored_rest
from shared.db.tables import ExecutionStep
from shared.db.types import utcnow
from shared.runtime import Resources
from shared.settings import Settings
from shared.state_machine import checkpoint_pg as pg_checkpoint
from shared.state_machine import claim as claims
from shared.state_machine.checkpoint_pg import CheckpointRow, CheckpointWriter
from shared.state_machine.claim_pg import QueuedClaims
from tests.support import execution_row, seed_workflow, start_execution


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    """Group commit is the PostgreSQL path; SQLite writes one checkpoint at a time."""
    return pg_settings


@pytest.fixture
def executor() -> None:
    """The writer is driven directly; no worker runs."""


async def _claimed_runs(resources: Resources, count: int) -> list[tuple[uuid.UUID, int]]:
    definition = {
        "name": "batch",
        "nodes": [{"id": "a", "type": "set", "position": 0, "config": {"values": {"x": 1}}}],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)

    async def first(_workflow: object, _version: object) -> str:
        return "a"

    runs = []
    for _ in range(count):
        execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
        claim = await claims.claim_run(
            resources.engine, execution_id, owner="w", lease_seconds=30, first_node_id=first
        )
        assert claim is not None
        runs.append((execution_id, claim.version))
    return runs


def _row(execution_id: uuid.UUID, version: int, now: datetime, **changes: object) -> CheckpointRow:
    values: dict[str, object] = {
        "execution_id": execution_id,
        "expected_version": version,
        "rest": stored_rest(ExecutionContext()),
        "outputs": {"a": {"x": 1}},
        "current_node_id": "a",
        "status": "completed",
        "finished_at": now,
        "execution_time_ms": 1,
        "error": None,
        "node_id": "a",
        "node_type": "set",
        "attempt": 1,
        "step_status": "completed",
        "started_at": now,
        "completed_at": now,
        "duration_ms": 1,
        "step_error": None,
        "output_summary": {"output": {"x": 1}},
        "condition": None,
        "step_id": None,
        "reason": "every node completed",
        "at": now,
    }
    values.update(changes)
    return CheckpointRow(**values)  # type: ignore[arg-type]


async def _steps(resources: Resources, execution_id: uuid.UUID) -> int:
    async with resources.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).where(ExecutionStep.execution_id == execution_id)
        )
    return int(count or 0)


async def test_concurrent_checkpoints_commit_together_each_with_its_own_step(
    resources: Resources,
) -> None:
    runs = await _claimed_runs(resources, 30)
    writer = CheckpointWriter(resources.engine, owner="w")
    now = utcnow()
    versions = await asyncio.gather(*(writer.commit(_row(e, v, now)) for e, v in runs))

    assert writer.statements == 1
    assert versions == [v + 1 for _, v in runs]
    for execution_id, version in runs:
        row = await execution_row(resources, execution_id)
        assert (row.status, row.version) == ("completed", version + 1)
        assert await _steps(resources, execution_id) == 1


async def test_a_stale_row_in_a_batch_writes_nothing_and_leaves_the_others_committed(
    resources: Resources,
) -> None:
    runs = await _claimed_runs(resources, 5)
    stale_id, _ = runs[2]
    writer = CheckpointWriter(resources.engine, owner="w")
    now = utcnow()
    rows = [_row(e, v - 1 if e == stale_id else v, now) for e, v in runs]
    versions = await asyncio.gather(*(writer.commit(row) for row in rows))

    assert versions[2] is None
    assert (await execution_row(resources, stale_id)).status == "running"
    assert await _steps(resources, stale_id) == 0
    for (execution_id, version), written in zip(runs, versions, strict=True):
        if execution_id != stale_id:
            assert written == version + 1
            assert (await execution_row(resources, execution_id)).status == "completed"


async def test_a_row_the_database_refuses_fails_only_its_own_run(resources: Resources) -> None:
    runs = await _claimed_runs(resources, 4)
    bad_id, _ = runs[1]
    writer = CheckpointWriter(resources.engine, owner="w")
    now = utcnow()
    # An int column cannot hold 2**40: the whole batch statement is refused.
    rows = [_row(e, v, now, duration_ms=2**40 if e == bad_id else 1) for e, v in runs]
    outcomes = await asyncio.gather(*(writer.commit(row) for row in rows), return_exceptions=True)

    assert isinstance(outcomes[1], Exception)
    assert (await execution_row(resources, bad_id)).status == "running"
    for (execution_id, version), outcome in zip(runs, outcomes, strict=True):
        if execution_id != bad_id:
            assert outcome == version + 1
            assert (await execution_row(resources, execution_id)).status == "completed"


async def test_claims_asked_together_share_a_statement_and_each_run_is_claimed_once(
    resources: Resources,
) -> None:
    definition = {
        "name": "claims",
        "nodes": [{"id": "a", "type": "set", "position": 0, "config": {"values": {"x": 1}}}],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    queued = [
        await start_execution(resources, workspace_id, workflow_id, publish=False)
        for _ in range(10)
    ]

    async def first(_workflow: object, _version: object) -> str:
        return "a"

    # One worker's batch of claims, as the executor's handlers hold it.
    batch = QueuedClaims(resources.engine)

    def claim(execution_id: uuid.UUID) -> Any:
        return claims.claim_run(
            resources.engine,
            execution_id,
            owner="w",
            lease_seconds=30,
            first_node_id=first,
            queued=batch,
        )

    # Every run asked for twice at once, as a redelivered message would.
    claimed = await asyncio.gather(*(claim(e) for e in [*queued, *queued]))

    assert batch.statements == 1
    winners = [c for c in claimed if c is not None]
    assert sorted(c.execution_id for c in winners) == sorted(queued)
    for execution_id in queued:
        row = await execution_row(resources, execution_id)
        assert (row.status, row.version, row.current_node_id) == ("running", 1, "a")


def test_each_checkpoint_row_goes_to_the_statement_with_every_field() -> None:
    # json_to_recordset reads a missing key as NULL, so a field left out would be lost quietly.
    row = _row(uuid.uuid4(), 1, utcnow())
    sent = pg_checkpoint._object(row)
    assert set(sent) == {f.name for f in dataclasses.fields(CheckpointRow)}
    encoded = json.loads(pg_checkpoint._as_json([row]))[0]
    assert (encoded["rest"], encoded["outputs"]) == (row.rest, row.outputs)

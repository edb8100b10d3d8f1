"""The statements that accept a run: the execution, its transition and its outbox row go in
together or not at all, pinned to the version committed before them, on either path."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.executions.run_request_sql import (
    Inserted,
    RunInserts,
    in_one_statement,
    insert_run,
    statement_by_statement,
)
from services.gateway.workflows.store import create_workflow, update_workflow
from shared.api_keys import create_api_key
from shared.context import ExecutionContext, snapshot
from shared.db.tables import Base, Execution, ExecutionTransition, OutboxMessage
from shared.db.types import utcnow
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from shared.workflows import WorkflowDefinition
from tests.gateway.conftest import definition

Insert = Callable[[AsyncEngine, dict[str, Any]], Awaitable[Inserted | None]]
BOTH_WAYS = pytest.mark.parametrize(
    "insert", [in_one_statement, statement_by_statement], ids=["one-statement", "one-by-one"]
)


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings, start_broker=False) as opened:
        yield opened


@pytest.fixture
async def pg_resources(pg_settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(pg_settings, start_broker=False) as opened:
        yield opened


async def _workflow(resources: Resources, workspace: str = "acme") -> tuple[uuid.UUID, uuid.UUID]:
    workspace_id, _ = await create_api_key(resources.sessions, workspace)
    created = await create_workflow(
        resources.sessions, workspace_id, WorkflowDefinition.model_validate(definition())
    )
    return workspace_id, created.id


def _params(
    workspace_id: uuid.UUID, workflow_id: uuid.UUID, key: str | None = None, **extra: Any
) -> dict[str, Any]:
    execution_id = uuid.uuid4()
    return {
        "execution_id": execution_id,
        "workspace_id": workspace_id,
        "workflow_id": workflow_id,
        "status": "queued",
        "context": snapshot(ExecutionContext()),
        "trigger_data": {"deal": {"amount": 2.5, "name": "Ação"}},
        "idempotency_key": key,
        "request_sha256": None,
        "now": utcnow(),
        "reason": "requested over the API",
        "queue": "executions.run",
        "body": {"type": "execution.run", "execution_id": str(execution_id)},
        **extra,
    }


async def _count(resources: Resources, table: type[Base]) -> int:
    async with resources.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _rows(resources: Resources, execution_id: uuid.UUID) -> dict[str, Any]:
    async with resources.sessions() as session:
        execution = await session.get(Execution, execution_id)
        transitions = (
            await session.scalars(
                select(ExecutionTransition).where(ExecutionTransition.execution_id == execution_id)
            )
        ).all()
        outbox = (await session.scalars(select(OutboxMessage))).all()
    assert execution is not None
    return {
        "execution": {
            c: getattr(execution, c)
            for c in (
                "workspace_id",
                "workflow_id",
                "workflow_version",
                "status",
                "version",
                "context",
                "trigger_data",
                "idempotency_key",
                "created_at",
                "current_node_id",
                "lease_owner",
            )
        },
        "transitions": [(t.from_status, t.to_status, t.reason, t.at) for t in transitions],
        "outbox": [(o.queue, o.body, o.created_at) for o in outbox],
    }


@BOTH_WAYS
async def test_each_way_commits_the_execution_its_transition_and_its_outbox_row_as_given(
    pg_resources: Resources, insert: Insert
) -> None:
    workspace_id, workflow_id = await _workflow(pg_resources)
    params = _params(workspace_id, workflow_id, key="deal-1")

    inserted = await insert(pg_resources.engine, params)

    assert inserted is not None and inserted.workflow_version == 1
    rows = await _rows(pg_resources, params["execution_id"])
    assert rows == {
        "execution": {
            "workspace_id": workspace_id,
            "workflow_id": workflow_id,
            "workflow_version": 1,
            "status": "queued",
            "version": 0,
            "context": params["context"],
            "trigger_data": params["trigger_data"],
            "idempotency_key": "deal-1",
            "created_at": params["now"],
            "current_node_id": None,
            "lease_owner": None,
        },
        "transitions": [(None, "queued", "requested over the API", params["now"])],
        "outbox": [("executions.run", params["body"], params["now"])],
    }
    async with pg_resources.sessions() as session:
        assert await session.scalar(select(OutboxMessage.id)) == inserted.outbox_id


async def test_a_run_is_pinned_to_the_version_committed_just_before_it(
    resources: Resources,
) -> None:
    workspace_id, workflow_id = await _workflow(resources)
    seen = []
    for _ in range(3):
        inserted = await insert_run(resources.engine, _params(workspace_id, workflow_id))
        assert inserted is not None
        seen.append(inserted.workflow_version)
        await update_workflow(
            resources.sessions,
            workspace_id,
            workflow_id,
            WorkflowDefinition.model_validate(definition()),
        )
    assert seen == [1, 2, 3]


async def test_another_workspaces_workflow_inserts_nothing(resources: Resources) -> None:
    _, workflow_id = await _workflow(resources)
    stranger, _ = await create_api_key(resources.sessions, "stranger")

    assert await insert_run(resources.engine, _params(stranger, workflow_id)) is None
    assert await insert_run(resources.engine, _params(stranger, uuid.uuid4())) is None
    for table in (Execution, ExecutionTransition, OutboxMessage):
        assert await _count(resources, table) == 0


async def test_a_used_idempotency_key_inserts_no_execution_transition_or_message(
    resources: Resources,
) -> None:
    workspace_id, workflow_id = await _workflow(resources)
    first = await insert_run(resources.engine, _params(workspace_id, workflow_id, key="k"))
    again = await insert_run(resources.engine, _params(workspace_id, workflow_id, key="k"))

    assert first is not None and again is None
    for table in (Execution, ExecutionTransition, OutboxMessage):
        assert await _count(resources, table) == 1


@BOTH_WAYS
async def test_twenty_racing_inserts_with_one_key_commit_one_run_and_one_message(
    pg_resources: Resources, insert: Insert
) -> None:
    workspace_id, workflow_id = await _workflow(pg_resources)
    results = await asyncio.gather(
        *(
            insert(pg_resources.engine, _params(workspace_id, workflow_id, key="k"))
            for _ in range(20)
        )
    )
    assert len([r for r in results if r is not None]) == 1
    for table in (Execution, ExecutionTransition, OutboxMessage):
        assert await _count(pg_resources, table) == 1


async def test_an_insert_cancelled_in_flight_leaves_the_pool_usable(
    pg_resources: Resources,
) -> None:
    workspace_id, workflow_id = await _workflow(pg_resources)
    engine = pg_resources.engine
    for delay in (0.0, 0.0005, 0.001, 0.002, 0.005):
        task = asyncio.create_task(in_one_statement(engine, _params(workspace_id, workflow_id)))
        await asyncio.sleep(delay)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # Every pooled connection, including any the cancels cut off, still serves an insert.
    inserted = await asyncio.gather(
        *(in_one_statement(engine, _params(workspace_id, workflow_id)) for _ in range(12))
    )
    assert all(i is not None for i in inserted)


async def test_connections_the_database_dropped_leave_the_pool_after_one_failure(
    pg_settings: Settings, pg_resources: Resources
) -> None:
    workspace_id, workflow_id = await _workflow(pg_resources)
    engine = pg_resources.engine

    async def insert() -> Inserted | None:
        return await in_one_statement(engine, _params(workspace_id, workflow_id))

    await asyncio.gather(*(insert() for _ in range(10)))  # the pool holds several connections
    admin = await asyncpg.connect(pg_settings.database_url.replace("+asyncpg", ""))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()

    failures = 0
    for _ in range(30):
        try:
            await insert()
        except Exception:
            failures += 1
    # Each dead connection fails one statement and is dropped, never handed out again.
    assert 1 <= failures <= 20
    assert all(r is not None for r in await asyncio.gather(*(insert() for _ in range(10))))
    for _ in range(10):
        assert await insert() is not None


async def test_runs_requested_together_go_in_with_one_statement_each_with_its_own_rows(
    pg_resources: Resources,
) -> None:
    workspace_id, workflow_id = await _workflow(pg_resources)
    stranger, _ = await create_api_key(pg_resources.sessions, "stranger")
    runs = RunInserts(pg_resources.engine)
    params = [_params(workspace_id, workflow_id, key=f"deal-{n}") for n in range(20)]
    # Another workspace's workflow in the same batch inserts nothing, and only for itself.
    foreign = _params(stranger, workflow_id)

    inserted = await asyncio.gather(*(runs.insert(p) for p in [*params, foreign]))

    assert runs.statements == 1
    assert inserted[-1] is None
    assert all(i is not None and i.workflow_version == 1 for i in inserted[:-1])
    assert len({i.outbox_id for i in inserted[:-1] if i is not None}) == 20
    for one in params:
        rows = await _rows(pg_resources, one["execution_id"])
        assert rows["execution"]["idempotency_key"] == one["idempotency_key"]
        assert rows["transitions"] == [(None, "queued", "requested over the API", one["now"])]
    for table in (Execution, ExecutionTransition, OutboxMessage):
        assert await _count(pg_resources, table) == 20


async def test_one_idempotency_key_repeated_within_a_batch_inserts_one_run(
    pg_resources: Resources,
) -> None:
    workspace_id, workflow_id = await _workflow(pg_resources)
    runs = RunInserts(pg_resources.engine)
    inserted = await asyncio.gather(
        *(runs.insert(_params(workspace_id, workflow_id, key="k")) for _ in range(20))
    )
    assert runs.statements == 1
    assert len([i for i in inserted if i is not None]) == 1
    for table in (Execution, ExecutionTransition, OutboxMessage):
        assert await _count(pg_resources, table) == 1

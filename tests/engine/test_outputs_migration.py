"""Node outputs live a row each, out of `executions.context`: how runs store them, and
migration 0017, which moves existing ones out and back."""

import asyncio
import json
import uuid
from typing import Any

from alembic import command
from sqlalchemy import text

from services.executor.worker import ExecutorWorker
from shared.db.engine import create_engine
from shared.db.migrate import alembic_config
from shared.runtime import open_resources
from shared.settings import Settings
from tests.migrations import assert_tables_round_trip
from tests.support import seed_workflow, start_execution, wait_for_status

OUTPUTS = {"fetch": {"status": 200, "big": 2.5e16}, "name": "Acme", "nothing": None}


async def test_migration_0017_creates_execution_outputs_as_the_models_say_and_drops_it(
    settings: Settings,
) -> None:
    await assert_tables_round_trip(
        settings.database_url, {"execution_outputs"}, revision="0017", before="0016"
    )


async def test_outputs_stored_inline_move_to_rows_and_back(settings: Settings) -> None:
    url = settings.database_url
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0016")
    execution_id = await _execution_with_inline_outputs(url)

    await asyncio.to_thread(command.upgrade, alembic_config(url), "0017")
    context = await _context(url, execution_id)
    rows = await _fetch(
        url,
        "SELECT node_id, output FROM execution_outputs WHERE execution_id = :id",
        execution_id,
    )
    assert "node_outputs" not in context
    assert context["source_data"] == {"deal": 7}
    assert {row[0]: _json(url, row[1]) for row in rows} == OUTPUTS

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0016")
    assert (await _context(url, execution_id))["node_outputs"] == OUTPUTS


async def _execution_with_inline_outputs(url: str) -> uuid.UUID:
    execution_id, workspace_id, workflow_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    context = {"source_data": {"deal": 7}, "node_outputs": OUTPUTS}
    engine = create_engine(url, pool_size=1)
    ids = {"e": _id(url, execution_id), "ws": _id(url, workspace_id), "wf": _id(url, workflow_id)}
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO workspaces (id, name, created_at) "
                    "VALUES (:ws, 'w', CURRENT_TIMESTAMP)"
                ),
                ids,
            )
            await conn.execute(
                text(
                    "INSERT INTO workflows (id, workspace_id, name, current_version, created_at, "
                    "updated_at) VALUES (:wf, :ws, 'f', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                ids,
            )
            await conn.execute(
                text(
                    "INSERT INTO executions (id, workspace_id, workflow_id, workflow_version, "
                    "status, version, context, trigger_data, created_at) "
                    f"VALUES (:e, :ws, :wf, 1, 'completed', 3, {_as_json(url, ':context')}, "
                    f"{_as_json(url, ':trigger')}, CURRENT_TIMESTAMP)"
                ),
                {**ids, "context": json.dumps(context), "trigger": "{}"},
            )
    finally:
        await engine.dispose()
    return execution_id


async def _context(url: str, execution_id: uuid.UUID) -> dict[str, Any]:
    [(stored,)] = await _fetch(url, "SELECT context FROM executions WHERE id = :id", execution_id)
    return dict(_json(url, stored))


async def _fetch(url: str, sql: str, execution_id: uuid.UUID) -> list[Any]:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), {"id": _id(url, execution_id)})).all())
    finally:
        await engine.dispose()


def _id(url: str, value: uuid.UUID) -> Any:
    """Ids as each backend stores them: uuid on PostgreSQL, 32 hex digits on SQLite."""
    return value.hex if url.startswith("sqlite") else value


def _as_json(url: str, parameter: str) -> str:
    return parameter if url.startswith("sqlite") else f"CAST({parameter} AS json)"


def _json(url: str, value: Any) -> Any:
    """A JSON column's value: text on SQLite, decoded by the driver on PostgreSQL."""
    return json.loads(value) if url.startswith("sqlite") else value


async def test_a_run_keeps_its_node_outputs_in_rows_and_the_rest_of_its_context_in_the_row(
    settings: Settings,
) -> None:
    """What a checkpoint writes does not grow with the run: no output goes into
    `executions.context`, each is a row of its own, and a reader sees the context whole."""
    async with open_resources(settings) as resources:
        worker = ExecutorWorker(resources)
        await worker.start()
        try:
            workspace_id, workflow_id = await seed_workflow(resources, THREE_SETS)
            execution_id = await start_execution(resources, workspace_id, workflow_id)
            done = await wait_for_status(resources, execution_id, "completed", "failed")
        finally:
            await worker.stop()

    assert done.status == "completed", done.error
    stored = await _context(settings.database_url, execution_id)
    rows = await _fetch(
        settings.database_url,
        "SELECT node_id FROM execution_outputs WHERE execution_id = :id",
        execution_id,
    )
    assert not stored.get("node_outputs")
    assert sorted(row[0] for row in rows) == ["a", "b", "c"]
    assert done.context["node_outputs"] == {"a": {"n": 1}, "b": {"n": 2}, "c": {"n": 3}}


THREE_SETS = {
    "name": "three",
    "nodes": [
        {"id": node, "type": "set", "position": k, "config": {"values": {"n": k + 1}}}
        for k, node in enumerate("abc")
    ],
}

"""Workflows with an `event` node, and waiting for their waits."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import ClientResponse
from sqlalchemy import select

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.connections.crypto import new_secret_key
from shared.db.tables import ExecutionTransition, Wait, WaitEvent
from shared.db.types import utcnow
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from shared.step_summary import MAX_SUMMARY_BYTES
from tests.gateway.conftest import Gateway, running_gateway
from tests.support import eventually, steps_of


@contextlib.asynccontextmanager
async def running_stack(settings: Settings, **overrides: Any) -> AsyncIterator[Gateway]:
    """A gateway, an executor and a scheduler on `settings` with a secret key (resume URLs
    need one) and `overrides`."""
    keyed = settings.model_copy(update={"secret_key": new_secret_key(), **overrides})
    async with open_resources(keyed) as resources, running_gateway(resources) as gateway:
        executor = ExecutorWorker(resources)
        scheduler = Scheduler(resources)
        await executor.start()
        await scheduler.start()
        try:
            yield gateway
        finally:
            await scheduler.stop()
            await executor.stop()


def event_workflow(
    event_config: dict[str, Any] | None = None, *, before: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """trigger → (before…) → `po` (event `po.confirmed`) → `after` (reads the payload)."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger", "position": 0}]
    for node in before or []:
        nodes.append({**node, "position": len(nodes)})
    config = {"name": "po.confirmed", **(event_config or {})}
    nodes.append({"id": "po", "type": "event", "position": len(nodes), "config": config})
    nodes.append(
        {
            "id": "after",
            "type": "set",
            "position": len(nodes),
            "config": {"values": {"seen": "{{ nodes.po }}"}},
        }
    )
    return {"name": f"events-{uuid.uuid4().hex[:6]}", "nodes": nodes}


async def started(gateway: Gateway, definition: dict[str, Any]) -> uuid.UUID:
    workflow = await gateway.create_workflow(definition)
    accepted = await gateway.start(workflow["id"], {"trigger_data": {"po": 42}})
    return uuid.UUID(accepted["execution_id"])


async def open_wait(resources: Resources, execution_id: uuid.UUID) -> Wait:
    async def probe() -> Wait | None:
        async with resources.sessions() as session:
            found: Wait | None = await session.scalar(
                select(Wait).where(
                    Wait.execution_id == execution_id, Wait.kind == "event", Wait.status == "open"
                )
            )
            return found

    wait = await eventually(probe, lambda w: w is not None)
    assert wait is not None
    return wait


async def post_event(
    gateway: Gateway,
    execution_id: uuid.UUID,
    payload: Any,
    *,
    name: str = "po.confirmed",
    key: str | None = None,
) -> ClientResponse:
    headers = dict(gateway.auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await gateway.client.post(
        f"/api/v1/executions/{execution_id}/events/{name}", json=payload, headers=headers
    )


async def events_of(resources: Resources, execution_id: uuid.UUID) -> list[WaitEvent]:
    async with resources.sessions() as session:
        rows = await session.scalars(
            select(WaitEvent).where(WaitEvent.execution_id == execution_id).order_by(WaitEvent.id)
        )
        return list(rows)


async def completed_steps(resources: Resources, execution_id: uuid.UUID, node_id: str) -> int:
    steps = await steps_of(resources, execution_id)
    return sum(1 for s in steps if s.node_id == node_id and s.status == "completed")


async def transitions_of(
    resources: Resources, execution_id: uuid.UUID
) -> list[tuple[str | None, str]]:
    async with resources.sessions() as session:
        rows = await session.execute(
            select(ExecutionTransition.from_status, ExecutionTransition.to_status)
            .where(ExecutionTransition.execution_id == execution_id)
            .order_by(ExecutionTransition.id)
        )
        return [(row.from_status, row.to_status) for row in rows]


def accepted_event_sql(wait: Wait) -> str:
    """An accepted event for `wait`'s node, as the gateway records one but with no resume:
    for `rolled_back(first=...)`, so that no executor sees it and resumes the run first (an
    executor's settle-on-open resume of the wait would, were it committed)."""
    return (
        "INSERT INTO wait_events (workspace_id, execution_id, node_id, name, dedup_key, via, "
        "status, payload, wait_id, received_at) "
        f"SELECT workspace_id, id, '{wait.node_id}', 'po.confirmed', 'once:{uuid.uuid4()}', "
        f"'api', 'accepted', '{{\"ok\": true}}', '{wait.id}', now() "
        f"FROM executions WHERE id = '{wait.execution_id}'"
    )


def asks_for(execution_id: uuid.UUID, wait_id: uuid.UUID) -> list[Any]:
    """The parameters $1 to $5 of a one-statement resume asked for one wait (by "planner")."""
    now = utcnow()
    return [[execution_id], [wait_id], ["planner"], [now + timedelta(seconds=30)], [now]]


def approved_gate_sql(wait_id: uuid.UUID) -> str:
    """Every approver of the gate approved, with no resume: for `rolled_back(first=...)`, as
    `accepted_event_sql`."""
    return (
        f"UPDATE approvals SET status = 'approved', decided_at = now() WHERE wait_id = '{wait_id}'"
    )


def approval_resume_args(execution_id: uuid.UUID, wait_id: uuid.UUID) -> list[Any]:
    """The parameters of RESUME_APPROVAL_GATES_SQL for one gate."""
    asks = asks_for(execution_id, wait_id)
    decided_at = [at.isoformat() for at in asks[-1]]
    limits = (Settings().max_context_bytes, Settings().max_node_output_bytes, MAX_SUMMARY_BYTES)
    return [*asks, decided_at, *limits]


@contextlib.asynccontextmanager
async def rolled_back(
    resources: Resources, first: str | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A PostgreSQL connection inside a transaction that is rolled back at the end, after
    `first` when given: a statement run in it writes nothing."""
    async with resources.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        transaction = raw.transaction()
        await transaction.start()
        try:
            if first is not None:
                await raw.execute(first)
            yield raw
        finally:
            await transaction.rollback()


async def commit_mode(
    resources: Resources, sql: str, *args: Any, first: str | None = None
) -> tuple[list[asyncpg.Record], str]:
    """The statement's rows, and `synchronous_commit` as its transaction would commit; run in
    a rolled-back transaction (after `first`), so nothing is written."""
    async with rolled_back(resources, first) as connection:
        rows = await connection.fetch(sql, *args)
        mode: str = await connection.fetchval("SHOW synchronous_commit")
    return rows, mode

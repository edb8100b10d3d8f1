"""SIGTERM to an executor mid-run: readiness drops, the run finishes on another executor, and no
node runs twice (or, past the grace period, the interrupted node re-runs at once elsewhere)."""

import asyncio
import signal
import uuid

import aiohttp
import pytest
from sqlalchemy import select

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.db.tables import ExecutionTransition
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.observability.support import Gates, five_nodes, free_port, gates
from tests.processes import consumer_count, spawn, stop
from tests.support import (
    eventually,
    execution_row,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
)

#: Far longer than any test here: a run that continues did not wait for a lease to expire.
LONG_LEASE = 120.0

pytestmark = pytest.mark.slow


async def _executors(
    settings: Settings, grace: float
) -> tuple[dict[str, asyncio.subprocess.Process], dict[str, int]]:
    processes, ports = {}, {}
    for name in ("executor-a", "executor-b"):
        ports[name] = free_port()
        processes[name] = await spawn(
            settings,
            "executor",
            DOCFLOW_WORKER_ID=name,
            DOCFLOW_METRICS_PORT=str(ports[name]),
            DOCFLOW_SHUTDOWN_GRACE_SECONDS=str(grace),
        )
    await eventually(
        lambda: consumer_count(settings, "executions.run"), lambda n: n >= 2, within=30
    )
    return processes, ports


async def _ready(port: int) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/readyz") as response,
    ):
        return response.status


async def _start_and_hold(resources: Resources, target: Gates) -> tuple[uuid.UUID, str]:
    """Start a five-node run and return once its webhook node `slow` is in flight."""
    workspace_id, workflow_id = await seed_workflow(resources, five_nodes(target.url))
    execution_id = await start_execution(resources, workspace_id, workflow_id)
    await asyncio.wait_for(target.arrived("slow").wait(), 30)
    row = await execution_row(resources, execution_id)
    assert row.lease_owner is not None
    return execution_id, row.lease_owner


async def _transitions(resources: Resources, execution_id: uuid.UUID) -> list[tuple[str, str]]:
    async with resources.sessions() as session:
        rows = await session.execute(
            select(ExecutionTransition.reason, ExecutionTransition.worker)
            .where(ExecutionTransition.execution_id == execution_id)
            .order_by(ExecutionTransition.id)
        )
        return [(reason or "", worker or "") for reason, worker in rows]


async def test_sigterm_mid_node_lets_the_node_finish_then_another_executor_completes_the_run(
    pg_settings: Settings,
) -> None:
    settings = pg_settings.model_copy(update={"lease_seconds": LONG_LEASE})
    async with gates() as target, open_resources(settings) as resources:
        target.gate("slow")
        processes, ports = await _executors(settings, grace=60.0)
        try:
            execution_id, owner = await _start_and_hold(resources, target)
            other = next(name for name in processes if name != owner)
            assert await _ready(ports[owner]) == 200

            processes[owner].send_signal(signal.SIGTERM)
            # Readiness turns false first, while the node it holds is still in flight.
            await eventually(lambda: _ready(ports[owner]), lambda status: status == 503)
            assert processes[owner].returncode is None
            target.gate("slow").set()

            done = await wait_for_status(resources, execution_id, "completed", "failed")
            assert await asyncio.wait_for(processes[owner].wait(), 30) == 0
        finally:
            for process in processes.values():
                await stop(process)
        transitions = await _transitions(resources, execution_id)
        steps = await steps_of(resources, execution_id)

    assert done.status == "completed", done.error
    # Every side effect happened once, and every node ran once.
    assert target.calls == {"slow": 1, "last": 1}
    assert [(s.node_id, s.attempt, s.status) for s in steps] == [
        (node, 1, "completed") for node in ("start", "price", "slow", "sum", "last")
    ]
    assert ("released by a stopping worker", owner) in transitions
    assert ("reclaimed after a lost lease", other) in transitions


async def test_a_node_still_running_after_the_grace_period_is_handed_over_at_once(
    pg_settings: Settings,
) -> None:
    settings = pg_settings.model_copy(update={"lease_seconds": LONG_LEASE})
    async with gates() as target, open_resources(settings) as resources:
        target.gate("slow")
        processes, _ = await _executors(settings, grace=0.5)
        try:
            execution_id, owner = await _start_and_hold(resources, target)
            processes[owner].send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(processes[owner].wait(), 30) == 0
            # The other executor re-runs the interrupted node without waiting out the lease.
            await eventually(lambda: _calls(target, "slow"), lambda n: n == 2, within=20)
            target.gate("slow").set()
            done = await wait_for_status(resources, execution_id, "completed", "failed")
        finally:
            for process in processes.values():
                await stop(process)
        steps = await steps_of(resources, execution_id)

    assert done.status == "completed", done.error
    assert [(s.node_id, s.attempt, s.status) for s in steps] == [
        ("start", 1, "completed"),
        ("price", 1, "completed"),
        ("slow", 1, "interrupted"),
        ("slow", 2, "completed"),
        ("sum", 1, "completed"),
        ("last", 1, "completed"),
    ]
    assert target.calls == {"slow": 2, "last": 1}


async def _calls(target: Gates, name: str) -> int:
    return target.calls.get(name, 0)


async def test_a_run_handed_back_in_embedded_mode_survives_the_restart_of_the_process(
    embedded_settings: Settings,
) -> None:
    """`docflow dev` stopping mid-node: the in-process broker dies with the run message the stop
    published, and the next start still finishes the run (the expired lease is swept)."""
    settings = embedded_settings.model_copy(update={"shutdown_grace_seconds": 0.2})
    async with gates() as target:
        target.gate("slow")
        async with open_resources(settings) as first_life:
            executor = ExecutorWorker(first_life)
            await executor.start()
            try:
                execution_id, _ = await _start_and_hold(first_life, target)
            finally:
                await executor.stop()
            row = await execution_row(first_life, execution_id)
            assert row.status == "running" and row.lease_expires_at is not None
        target.gate("slow").set()
        async with open_resources(settings) as second_life:
            executor, scheduler = ExecutorWorker(second_life), Scheduler(second_life)
            await executor.start()
            await scheduler.start()
            try:
                done = await wait_for_status(second_life, execution_id, "completed", "failed")
            finally:
                await scheduler.stop()
                await executor.stop()
            steps = await steps_of(second_life, execution_id)
    assert done.status == "completed", done.error
    assert [(s.node_id, s.attempt, s.status) for s in steps][2:4] == [
        ("slow", 1, "interrupted"),
        ("slow", 2, "completed"),
    ]

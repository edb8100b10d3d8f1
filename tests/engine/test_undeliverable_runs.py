"""A run no executor can run ends `failed` with the reason, not `queued` or `paused` for ever;
`retry` continues it once an executor can."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType, Wait
from services.executor.nodes.registry import core_node_types
from services.executor.worker import ExecutorWorker
from shared.broker.topology import RESUME, RUN
from shared.db.tables import Execution, ExecutionTransition
from shared.db.types import utcnow
from shared.messages import ResumeExecution, RetryExecution
from shared.nodes.base import NodeConfig
from shared.runtime import Resources
from shared.state_machine.end import fail_undeliverable, fail_unresumable
from shared.state_machine.waits import WaitRecord, WaitSpec
from tests.support import (
    eventually,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
    waits_of,
)

FROM_THE_FUTURE = {
    "name": "needs a newer executor",
    "nodes": [
        {"id": "a", "type": "set", "position": 0, "config": {"values": {"x": 1}}},
        {"id": "b", "type": "from-the-future", "position": 1, "config": {}},
    ],
}


class FutureConfig(NodeConfig):
    pass


class FromTheFuture(NodeType):
    """A node type that only the next release of the executor knows."""

    type_name: ClassVar[str] = "from-the-future"
    config_model = FutureConfig

    async def run(self, call: NodeCall) -> NodeResult:
        return Completed(output={"ran": True})


class BrokenGate(NodeType):
    """A gate whose rule for deciding its wait has a bug: it raises on every fact."""

    type_name: ClassVar[str] = "broken-gate"
    config_model = FutureConfig

    async def run(self, call: NodeCall) -> NodeResult:
        return Wait(WaitSpec(kind="signature"))

    async def settle(
        self, conn: AsyncConnection, wait: WaitRecord, reason: str
    ) -> dict[str, Any] | None:
        raise RuntimeError("the gate's rule is broken")


BROKEN_GATE = {
    "name": "a gate that cannot decide",
    "nodes": [
        {"id": "gate", "type": "broken-gate", "position": 0, "config": {}},
        {"id": "after", "type": "set", "position": 1, "config": {"values": {"x": 1}}},
    ],
}


@contextlib.asynccontextmanager
async def _paused_at_broken_gate(resources: Resources) -> AsyncIterator[uuid.UUID]:
    """An execution paused at BROKEN_GATE's gate, with an executor that knows the gate running."""
    workspace_id, workflow_id = await seed_workflow(resources, BROKEN_GATE, validate=False)
    worker = ExecutorWorker(resources, [*core_node_types(), BrokenGate()])
    await worker.start()
    try:
        execution_id = await start_execution(resources, workspace_id, workflow_id)
        await wait_for_status(resources, execution_id, "paused")
        yield execution_id
    finally:
        await worker.stop()


async def _transitions(
    resources: Resources, execution_id: uuid.UUID
) -> list[tuple[str | None, str]]:
    async with resources.engine.connect() as conn:
        rows = await conn.execute(
            select(ExecutionTransition.from_status, ExecutionTransition.to_status)
            .where(ExecutionTransition.execution_id == execution_id)
            .order_by(ExecutionTransition.id)
        )
        return [(src, dst) for src, dst in rows]


async def test_a_run_that_fails_on_every_delivery_is_failed_with_its_reason_and_retried_later(
    resources: Resources,
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, FROM_THE_FUTURE, validate=False)
    old = ExecutorWorker(resources)
    await old.start()
    try:
        execution_id = await start_execution(resources, workspace_id, workflow_id)
        failed = await wait_for_status(resources, execution_id, "failed")
        dead = await eventually(lambda: resources.broker.dead_letters(RUN), lambda n: n == 1)
    finally:
        await old.stop()

    assert failed.error is not None
    assert "no executor could run it" in failed.error and "from-the-future" in failed.error
    assert failed.lease_owner is None and failed.finished_at is not None
    assert dead == 1  # the message is still there for whoever looks into it
    # On PostgreSQL each delivery claimed it and let go after the error; on SQLite none got
    # as far as the claim. Either way it ended failed from where the last delivery left it.
    transitions = await _transitions(resources, execution_id)
    assert transitions[0] == (None, "queued") and transitions[-1][1] == "failed"
    assert all(dst != "completed" for _, dst in transitions)

    new = ExecutorWorker(resources, [*core_node_types(), FromTheFuture()])
    await new.start()
    try:
        await resources.broker.publish(RUN, RetryExecution(execution_id=execution_id))
        done = await wait_for_status(resources, execution_id, "completed")
    finally:
        await new.stop()
    assert done.context["node_outputs"] == {"a": {"x": 1}, "b": {"ran": True}}
    assert [(s.node_id, s.attempt, s.status) for s in await steps_of(resources, execution_id)] == [
        ("a", 1, "completed"),
        ("b", 1, "completed"),
    ]


async def test_giving_up_leaves_alone_a_run_that_another_worker_holds(
    resources: Resources,
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, FROM_THE_FUTURE, validate=False)
    execution_id = await start_execution(resources, workspace_id, workflow_id, publish=False)
    held_until = utcnow() + timedelta(seconds=30)
    async with resources.engine.begin() as conn:
        await conn.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(status="running", lease_owner="other-worker", lease_expires_at=held_until)
        )

    assert await fail_undeliverable(resources.engine, execution_id, error="x", owner="me") is None
    async with resources.engine.begin() as conn:
        await conn.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    # Its lease ran out: nobody is running it, so it is failed like a queued one.
    row = await fail_undeliverable(resources.engine, execution_id, error="x", owner="me")
    assert row is not None
    async with resources.engine.connect() as conn:
        status = await conn.scalar(select(Execution.status).where(Execution.id == execution_id))
    assert status == "failed"


async def test_a_resume_that_fails_on_every_delivery_fails_the_run_and_closes_its_wait(
    resources: Resources,
) -> None:
    async with _paused_at_broken_gate(resources) as execution_id:
        [wait] = await waits_of(resources, execution_id)
        resume = ResumeExecution(
            execution_id=execution_id, wait_id=wait.id, reason="fact", requested_at=utcnow()
        )
        await resources.broker.publish(RESUME, resume)
        failed = await wait_for_status(resources, execution_id, "failed")
        dead = await eventually(lambda: resources.broker.dead_letters(RESUME), lambda n: n == 1)

    assert failed.error is not None
    assert "no executor could run it" in failed.error and "rule is broken" in failed.error
    assert dead == 1
    [closed] = await waits_of(resources, execution_id)
    assert closed.status == "cancelled"
    assert [(s.node_id, s.status) for s in await steps_of(resources, execution_id)] == [
        ("gate", "failed")
    ]
    assert (await _transitions(resources, execution_id))[-1] == ("paused", "failed")


async def test_a_resume_for_a_wait_no_longer_open_does_not_fail_the_run(
    resources: Resources,
) -> None:
    async with _paused_at_broken_gate(resources) as execution_id:
        pass

    stale = uuid.uuid4()
    assert (
        await fail_unresumable(resources.engine, execution_id, stale, error="x", owner="me") is None
    )
    [wait] = await waits_of(resources, execution_id)
    assert wait.status == "open"
    row = await fail_unresumable(resources.engine, execution_id, wait.id, error="x", owner="me")
    assert row is not None and row.status == "paused"  # the row as it was read

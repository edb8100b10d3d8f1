"""A run no executor can run ends `failed` with the reason, not `queued` forever; `retry`
continues it once an executor can."""

import uuid
from datetime import timedelta
from typing import ClassVar

from sqlalchemy import select, update

from services.executor.giving_up import fail_undeliverable
from services.executor.nodes.base import Completed, NodeCall, NodeResult, NodeType
from services.executor.nodes.registry import core_node_types
from services.executor.worker import ExecutorWorker
from shared.broker.topology import RUN
from shared.db.tables import Execution, ExecutionTransition
from shared.db.types import utcnow
from shared.messages import RetryExecution
from shared.nodes.base import NodeConfig
from shared.runtime import Resources
from tests.support import eventually, seed_workflow, start_execution, steps_of, wait_for_status

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

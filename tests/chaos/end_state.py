"""What must hold once the faults are over and the work is done, whatever the scenario."""

import uuid
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from shared.broker.topology import WORK_QUEUES
from shared.db.tables import Execution, ExecutionStep, OutboxMessage, WorkflowVersion
from shared.db.types import utcnow
from shared.runtime import Resources

#: Step rows that stand for a node done: each node of a completed run has exactly one.
DONE_STEPS = ("completed", "skipped")


async def end_state_problems(resources: Resources) -> list[str]:
    """Work queues empty (dead letters aside), outbox empty, no expired lease, no run `queued`
    or `running` without a worker on it, one done step per node of each completed run."""
    problems: list[str] = []
    for queue in WORK_QUEUES:
        depth = await resources.broker.queue_depth(queue)
        if depth:
            problems.append(f"{depth} message(s) left in {queue}")
    now = utcnow()
    async with resources.sessions() as session:
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
        expired = await session.scalar(
            select(func.count()).where(
                Execution.status == "running", Execution.lease_expires_at < now
            )
        )
        unowned = await session.scalar(
            select(func.count()).where(
                Execution.status.in_(("queued", "running")),
                (Execution.lease_expires_at.is_(None)) | (Execution.lease_expires_at < now),
            )
        )
    if outbox:
        problems.append(f"{outbox} outbox row(s) never published")
    if expired:
        problems.append(f"{expired} running execution(s) with an expired lease")
    if unowned:
        problems.append(f"{unowned} execution(s) queued or running without a worker on it")
    problems.extend(await _steps_of_completed_runs(resources))
    return problems


async def _steps_of_completed_runs(resources: Resources) -> list[str]:
    async with resources.sessions() as session:
        versions = await session.execute(
            select(WorkflowVersion.workflow_id, WorkflowVersion.version, WorkflowVersion.definition)
        )
        nodes: dict[tuple[uuid.UUID, int], list[str]] = {
            (row.workflow_id, row.version): [n["id"] for n in _nodes(row.definition)]
            for row in versions
        }
        runs = await session.execute(
            select(Execution.id, Execution.workflow_id, Execution.workflow_version).where(
                Execution.status == "completed"
            )
        )
        expected = {row.id: nodes[(row.workflow_id, row.workflow_version)] for row in runs}
        done = await session.execute(
            select(ExecutionStep.execution_id, ExecutionStep.node_id).where(
                ExecutionStep.status.in_(DONE_STEPS)
            )
        )
        counted: dict[uuid.UUID, Counter[str]] = {}
        for row in done:
            counted.setdefault(row.execution_id, Counter())[row.node_id] += 1
    wrong = [
        execution_id
        for execution_id, node_ids in expected.items()
        if counted.get(execution_id, Counter()) != Counter(node_ids)
    ]
    if not wrong:
        return []
    example = wrong[0]
    return [
        f"{len(wrong)} completed run(s) without exactly one done step per node, e.g. "
        f"{example}: {dict(counted.get(example, Counter()))} for nodes {expected[example]}"
    ]


def _nodes(definition: dict[str, Any]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = definition["nodes"]
    return nodes

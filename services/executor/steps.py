"""The durable `running` step a side-effecting node gets before it starts, so a crash mid-node
stays visible — and the budget of interrupted attempts that step makes countable."""

from itertools import takewhile

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.progress import RunProgress
from shared.db.tables import Execution, ExecutionStep
from shared.db.types import utcnow
from shared.errors import StaleVersion
from shared.state_machine.lease import held_by
from shared.state_machine.moves import HEARTBEAT
from shared.status import StepStatus


class InterruptedTooOften(Exception):
    """A side-effecting node was interrupted as often as a message may be delivered: its
    worker died, lost its lease or could not store what it did, each time. Starting it again
    would repeat its side effect past any budget, so the node fails instead."""

    def __init__(self, node_id: str, times: int) -> None:
        super().__init__(
            f"node `{node_id}` was interrupted {times} times (its worker stopped or could not "
            "checkpoint it each time); it is not started again"
        )


async def start_step(
    engine: AsyncEngine,
    run: RunProgress,
    node_id: str,
    node_type: str,
    *,
    owner: str,
    budget: int,
) -> int:
    """Record a side-effecting attempt before it starts, so a crash mid-node stays visible;
    `InterruptedTooOften` when `budget` earlier attempts of the node were interrupted, and
    `StaleVersion` when the run is no longer ours to go on with."""
    async with engine.begin() as conn:
        # Only under our claim, held (share-locked) until the step is recorded: a worker fenced
        # meanwhile, or whose claim the database lost in a crash (claims commit without waiting
        # for the log's flush), must not start a side effect. The run's next claim will.
        held = await conn.scalar(
            select(Execution.id).where(held_by(run, owner, HEARTBEAT)).with_for_update(read=True)
        )
        if held is None:
            raise StaleVersion(f"execution {run.execution_id} moved past version {run.version}")
        # The latest attempts, newest first: those interrupted since the last that ended
        # otherwise (failed, completed, waiting) count. A retry, of the node or of the failed
        # run, follows a failed attempt and so starts a budget of its own.
        latest = await conn.scalars(
            select(ExecutionStep.status)
            .where(
                ExecutionStep.execution_id == run.execution_id,
                ExecutionStep.node_id == node_id,
            )
            .order_by(ExecutionStep.attempt.desc())
            .limit(budget)
        )
        interrupted = len(list(takewhile(lambda status: status == StepStatus.INTERRUPTED, latest)))
        if interrupted >= budget:
            raise InterruptedTooOften(node_id, interrupted)
        step_id = await conn.scalar(
            insert(ExecutionStep)
            .values(
                execution_id=run.execution_id,
                node_id=node_id,
                node_type=node_type,
                attempt=run.attempt,
                status=StepStatus.RUNNING,
                started_at=utcnow(),
            )
            .returning(ExecutionStep.id)
        )
    assert step_id is not None
    return int(step_id)

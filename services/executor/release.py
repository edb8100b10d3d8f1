"""Handing a claimed execution back when this worker stops, so another continues at once, and
letting go of one whose handling failed, so the next delivery of its message can claim it.

Without it a stopping worker's lease would have to expire (and the scheduler fence it) before
anyone else could go on: a deploy would stall every run it touched for a lease period.
"""

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.executor.claims import Claim, record_transition
from shared.broker.topology import RUN
from shared.db.tables import Execution
from shared.db.types import utcnow
from shared.messages import RunExecution
from shared.outbox import Staged, stage
from shared.status import ExecutionStatus as S

REASON = "released by a stopping worker"


async def release(engine: AsyncEngine, claim: Claim, *, owner: str) -> Staged | None:
    """End our lease now (compare-and-set on `version` and owner) and stage a run message.

    Returns None when the row already moved on (our lease was fenced, or a checkpoint we could
    not see committed): then it is not ours to hand back, and nothing was written.
    The next claimer finds a `running` row whose lease has expired, the reclaim case of
    `claim_run`, and goes on from `current_node_id`; a node we left mid-way is marked
    interrupted there. The owner is kept on purpose: should the run message be lost (the
    in-process broker of `docflow dev` dies with the process), the scheduler's lease sweep
    still finds an expired lease and re-publishes the run.
    """
    async with engine.begin() as conn:
        if not await _end_lease(conn, claim, owner=owner, reason=REASON):
            return None
        staged = await stage(conn, RUN, RunExecution(execution_id=claim.execution_id))
    return staged


async def let_go(engine: AsyncEngine, claim: Claim, *, owner: str, error: BaseException) -> bool:
    """End our lease now after handling the execution failed, without a message of our own:
    the failed message goes back to its queue, and its next delivery reclaims the run at once
    (then, on its last, the run is failed for good: giving_up.py). False when it moved on."""
    reason = f"let go after an error: {error!r}"[:2000]
    async with engine.begin() as conn:
        return await _end_lease(conn, claim, owner=owner, reason=reason)


async def _end_lease(conn: AsyncConnection, claim: Claim, *, owner: str, reason: str) -> bool:
    version = await conn.scalar(
        update(Execution)
        .where(
            Execution.id == claim.execution_id,
            Execution.version == claim.version,
            Execution.status == S.RUNNING,
            Execution.lease_owner == owner,
        )
        .values(lease_expires_at=utcnow(), version=Execution.version + 1)
        .returning(Execution.version)
    )
    if version is None:
        return False
    await record_transition(conn, claim.execution_id, S.RUNNING, S.RUNNING, reason, owner)
    claim.version = version
    return True

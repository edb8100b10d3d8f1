"""The parts of a step the runner decides without calling the node: a `when` that skips it or
cannot be evaluated, and the error `on_error: continue` leaves in the context."""

from datetime import datetime
from typing import Any

from services.executor.definitions import PreparedNode
from services.executor.nodes.base import Failed
from services.executor.progress import RunProgress
from shared.conditions import Condition
from shared.db.types import utcnow
from shared.state_machine.checkpoint import StepRecord
from shared.status import StepStatus


def decided_step(
    run: RunProgress,
    node: PreparedNode,
    *,
    started_at: datetime,
    duration: float,
    outcome: Condition | Failed,
) -> StepRecord:
    """The step of an attempt decided before the node was called: `skipped` (its `when` was
    false), or `failed` (its `when` could not be evaluated)."""
    skipped = isinstance(outcome, Condition)
    return StepRecord(
        node_id=node.id,
        node_type=node.type_name,
        attempt=run.attempt,
        status=StepStatus.SKIPPED if skipped else StepStatus.FAILED,
        started_at=started_at,
        completed_at=utcnow(),
        duration_ms=round(duration * 1000),
        error=outcome.error if isinstance(outcome, Failed) else None,
        condition=outcome.record() if isinstance(outcome, Condition) else None,
    )


def error_record(result: Failed, attempts: int) -> dict[str, Any]:
    """`errors.<node id>`: what later nodes (and their `when`s) can test."""
    return {
        "type": result.kind or ("transient" if result.retryable else "permanent"),
        "message": result.error,
        "attempts": attempts,
    }

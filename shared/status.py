"""Execution statuses and the one table of moves between them."""

from enum import StrEnum

from shared.errors import IllegalTransition


class ExecutionStatus(StrEnum):
    #: Accepted and waiting for a worker to claim it.
    QUEUED = "queued"
    #: Claimed by a worker that holds a lease on it.
    RUNNING = "running"
    #: Waiting for a timer, a retry back-off or people/providers to decide.
    PAUSED = "paused"
    #: Every node completed.
    COMPLETED = "completed"
    #: A node failed for good, or a wait decided against it; `retry` may continue it.
    FAILED = "failed"
    #: Stopped on request; final.
    CANCELLED = "cancelled"


S = ExecutionStatus

ALLOWED_MOVES: frozenset[tuple[ExecutionStatus, ExecutionStatus]] = frozenset(
    {
        (S.QUEUED, S.RUNNING),
        (S.QUEUED, S.CANCELLED),
        # No worker could run it: its run message failed on every delivery.
        (S.QUEUED, S.FAILED),
        # Another worker reclaims a run whose lease expired.
        (S.RUNNING, S.RUNNING),
        (S.RUNNING, S.PAUSED),
        (S.RUNNING, S.COMPLETED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.CANCELLED),
        (S.PAUSED, S.RUNNING),
        (S.PAUSED, S.CANCELLED),
        (S.PAUSED, S.FAILED),
        # `retry` continues a failed execution from the failed node.
        (S.FAILED, S.RUNNING),
    }
)

FINAL_STATUSES = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})


def sources_of(target: ExecutionStatus) -> frozenset[ExecutionStatus]:
    """The statuses an execution may be in to move to `target`; used in WHERE clauses."""
    return frozenset(src for src, dst in ALLOWED_MOVES if dst == target)


def check_move(current: ExecutionStatus, target: ExecutionStatus) -> None:
    if (current, target) not in ALLOWED_MOVES:
        raise IllegalTransition(current, target)

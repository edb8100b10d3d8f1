"""Every status column's values, and the one table of moves between execution statuses."""

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


class StepStatus(StrEnum):
    """An attempt of a node (`execution_steps.status`)."""

    RUNNING = "running"
    #: Paused on a wait; completed when the node resumes.
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    #: Its worker died or lost its lease mid-node.
    INTERRUPTED = "interrupted"
    #: Its run was cancelled while it ran or waited.
    CANCELLED = "cancelled"
    #: Its `when` was false: the node did not run.
    SKIPPED = "skipped"


class WaitStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"
    #: Its deadline passed and the run fails on it (`on_timeout: fail`).
    EXPIRED = "expired"
    #: Its run ended first.
    CANCELLED = "cancelled"


class WaitEventStatus(StrEnum):
    #: The one event that decides (or will decide) its node's wait.
    ACCEPTED = "accepted"
    #: Came after another was accepted, or after the wait was decided: changes nothing.
    LATE = "late"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    #: Reassigned to someone else.
    REPLACED = "replaced"
    #: The gate or its run ended first.
    CANCELLED = "cancelled"
    #: Still undecided when the gate's deadline decided it.
    EXPIRED = "expired"


#: Approver statuses a gate's rule counts (replaced or cancelled approvers take no part): the
#: executor's rule and its one-statement resume count these, and the decisions that set a
#: gate's `last_decided_at` (which the scheduler's stalled-gates pass starts from) are of these.
COUNTED_APPROVER_STATUSES = (
    ApprovalStatus.PENDING.value,
    ApprovalStatus.APPROVED.value,
    ApprovalStatus.REJECTED.value,
)


class DocumentStatus(StrEnum):
    #: A copy exists at the provider; its bytes not yet here.
    PENDING = "pending"
    READY = "ready"


class DeliveryStatus(StrEnum):
    """An e-mail the notifier was asked to send (`email_deliveries.status`)."""

    #: Not sent yet: being tried, or waiting for its next try.
    SENDING = "sending"
    SENT = "sent"
    #: Failed for good (its own failures, or cut short too often).
    FAILED = "failed"

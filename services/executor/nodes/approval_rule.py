"""The one rule that decides every approval strategy, and the decision it writes.

approved when approvals ≥ required; rejected when approvals + pending < required. `any` needs
1, `all` needs every approver, `quorum` needs N. Replaced or cancelled approvers do not count.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from shared.status import COUNTED_APPROVER_STATUSES

Outcome = Literal["approved", "rejected"]
#: Approver statuses that take part in the rule.
COUNTED = COUNTED_APPROVER_STATUSES


def required_approvals(strategy: str, approvers: int, required: int | None) -> int:
    if strategy == "any":
        return 1
    if strategy == "all":
        return approvers
    assert required is not None, "quorum without 'required' is refused when saved"
    return required


@dataclass(frozen=True)
class Tally:
    approved: int
    rejected: int
    pending: int

    @classmethod
    def of(cls, statuses: Sequence[str]) -> "Tally":
        return cls(
            approved=sum(s == "approved" for s in statuses),
            rejected=sum(s == "rejected" for s in statuses),
            pending=sum(s == "pending" for s in statuses),
        )


def outcome(required: int, tally: Tally) -> Outcome | None:
    """None: not decided yet."""
    if tally.approved >= required:
        return "approved"
    if tally.approved + tally.pending < required:
        return "rejected"
    return None


#: The outcome of a gate whose deadline passed with `on_timeout: fail`.
EXPIRED = "expired"


def timeout_outcome(on_timeout: str) -> str:
    """What an expired gate decides when the rule has not: approve, reject, or `expired`
    (which the node turns into a failed execution, and the wait's status)."""
    return {"approve": "approved", "reject": "rejected"}.get(on_timeout, EXPIRED)


def decision(
    rule: dict[str, Any],
    tally: Tally,
    result: str,
    *,
    by: Literal["rule", "timeout"],
    at: datetime,
    approvers: list[dict[str, Any]],
) -> dict[str, Any]:
    """The wait's decision, and what later nodes find in `approvals[node_id]`."""
    return {
        "outcome": result,
        "by": by,
        "strategy": rule["strategy"],
        "required": rule["required"],
        "approved": tally.approved,
        "rejected": tally.rejected,
        "pending": tally.pending,
        "decided_at": at.isoformat(),
        "approvers": approvers,
    }

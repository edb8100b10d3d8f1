"""The rule over signers: `all` (default), `any`, or `quorum` of `required` signatures.

The same rule as approvals: met when signatures reach the number required; impossible once
signatures plus signers still pending can no longer reach it (for `all`, the first refusal).
"""

from collections.abc import Iterable
from enum import StrEnum

from shared.esign.model import SignerStatus


class Verdict(StrEnum):
    MET = "met"
    IMPOSSIBLE = "impossible"
    OPEN = "open"


def required_signatures(rule: str, required: int | None, signers: int) -> int:
    if rule == "any":
        return 1
    if rule == "quorum" and required is not None:
        return required
    return signers


def evaluate(required: int, statuses: Iterable[str]) -> Verdict:
    listed = list(statuses)
    signed = sum(1 for s in listed if s == SignerStatus.SIGNED)
    pending = sum(1 for s in listed if s == SignerStatus.PENDING)
    if signed >= required:
        return Verdict.MET
    if signed + pending < required:
        return Verdict.IMPOSSIBLE
    return Verdict.OPEN

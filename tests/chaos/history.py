"""What the clients did and what they were told: one record per operation.

An operation is `invoked`, then `ok` (the service said it took it), `failed` (the service kept
saying it did not: a 4xx, or a 503 on every attempt) or `unknown` (no usable answer: a 500, a
time-out, a broken connection — it may or may not have happened). A client retries a 503 with
the same `Idempotency-Key`, as the README tells clients to; each attempt's answer is kept.
Times are wall-clock seconds, comparable with the database's timestamps.
"""

import statistics
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    #: Sent, no answer yet.
    INVOKED = "invoked"
    #: Accepted: the service must finish it.
    OK = "ok"
    #: Refused on every attempt: the service must not have done it.
    FAILED = "failed"
    #: No usable answer: either is allowed, and the checker finds out which from the database.
    UNKNOWN = "unknown"


@dataclass
class Answer:
    """One attempt of an operation and what came back."""

    sent_at: float
    latency: float
    #: None: no answer at all (a time-out, a broken connection).
    status: int | None
    retry_after: str | None = None
    detail: str = ""


@dataclass
class Operation:
    #: The client's `Idempotency-Key`, the same on every attempt: how the checker finds what an
    #: unknown operation did, and what makes a retry safe.
    key: str
    invoked_at: float
    outcome: Outcome = Outcome.INVOKED
    completed_at: float | None = None
    execution_id: uuid.UUID | None = None
    answers: list[Answer] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        return self.answers[-1].status if self.answers else None


@dataclass
class Window:
    """When a fault was on: from its start to the moment the link (or process) was back."""

    started_at: float
    ended_at: float | None = None

    def holds(self, at: float) -> bool:
        return self.started_at <= at <= (self.ended_at if self.ended_at is not None else at)


@dataclass
class History:
    operations: list[Operation] = field(default_factory=list)
    faults: list[Window] = field(default_factory=list)

    def invoke(self, key: str) -> Operation:
        operation = Operation(key=key, invoked_at=time.time())
        self.operations.append(operation)
        return operation

    def fault_started(self) -> Window:
        window = Window(started_at=time.time())
        self.faults.append(window)
        return window

    @staticmethod
    def fault_ended(window: Window) -> None:
        window.ended_at = time.time()

    def with_outcome(self, *outcomes: Outcome) -> list[Operation]:
        return [op for op in self.operations if op.outcome in outcomes]

    def during_faults(self) -> list[Answer]:
        """Every answer to an attempt sent while a fault was on."""
        return [
            answer
            for op in self.operations
            for answer in op.answers
            if any(w.holds(answer.sent_at) for w in self.faults)
        ]

    @property
    def first_fault_start(self) -> float | None:
        return min((w.started_at for w in self.faults), default=None)

    @property
    def last_fault_end(self) -> float | None:
        ends = [w.ended_at for w in self.faults if w.ended_at is not None]
        return max(ends, default=None)


def finish(operation: Operation, outcome: Outcome, execution_id: uuid.UUID | None = None) -> None:
    operation.completed_at = time.time()
    operation.outcome = outcome
    operation.execution_id = execution_id


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (1 to 99) by the inclusive method; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]

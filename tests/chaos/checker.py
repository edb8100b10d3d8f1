"""Reads the history against the database: what was lost, duplicated, recovered or stalled.

- **lost**: accepted (a 202, or an unknown answer whose run exists) and not completed at the
  end — missing, failed or cancelled. A run the fault made fail is work lost.
- **duplicated**: a node checkpointed twice (two done steps) or one request started as two runs.
- **recovered**: a run in flight when a fault began (accepted before it ended, not finished
  before it started) that completed.
- **stalled**: accepted and neither completed nor failed once the settling deadline passed.
"""

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from shared.db.tables import Execution, ExecutionStep
from shared.runtime import Resources
from shared.status import FINAL_STATUSES
from tests.chaos.end_state import DONE_STEPS, end_state_problems
from tests.chaos.history import History, Outcome, percentile


@dataclass
class Verdict:
    accepted: int = 0
    completed: int = 0
    #: Requests refused for good (a 4xx, or a 503 on every attempt).
    refused: int = 0
    #: Requests without a usable answer on any attempt (a 500, a time-out, a broken connection).
    unknown: int = 0
    #: `503` answers, each followed by another attempt with the same key.
    answers_503: int = 0
    lost: list[uuid.UUID] = field(default_factory=list)
    #: Why the lost runs that exist ended as they did: error -> how many.
    lost_because: Counter[str] = field(default_factory=Counter)
    duplicated: list[str] = field(default_factory=list)
    stalled: list[uuid.UUID] = field(default_factory=list)
    recovered: int = 0
    #: From the end of the last fault to the last completion of a run accepted before it;
    #: None when one of those runs never finished.
    recovery_seconds: float | None = None
    #: Latency of the `202`s of requests sent while a fault was on.
    accepted_p50: float | None = None
    accepted_p99: float | None = None
    #: Everything else found wrong: the end state, a refused request that ran anyway.
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not (self.lost or self.duplicated or self.stalled or self.problems)

    def explain(self) -> str:
        lines = [
            f"lost {len(self.lost)} {self.lost[:3]} {dict(self.lost_because.most_common(3))}",
            f"duplicated {len(self.duplicated)} {self.duplicated[:3]}",
            f"stalled {len(self.stalled)} {self.stalled[:3]}",
            *self.problems,
        ]
        return "; ".join(lines)


@dataclass
class _Run:
    id: uuid.UUID
    key: str | None
    status: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None


async def settle(resources: Resources, history: History, *, within: float) -> float:
    """Wait until every run the history may have started is final, or `within` seconds pass.
    Returns when the last of them finished (wall clock), as far as the database says."""
    deadline = time.monotonic() + within
    while True:
        runs = await _runs(resources, history)
        if all(run.status in FINAL_STATUSES for run in runs.values()) or (
            time.monotonic() > deadline
        ):
            finished = [run.finished_at.timestamp() for run in runs.values() if run.finished_at]
            return max(finished, default=time.time())
        # Polling a database the services write: there is nothing to await instead.
        await asyncio.sleep(0.5)


async def check(resources: Resources, history: History) -> Verdict:
    runs = await _runs(resources, history)
    verdict = Verdict(
        refused=len(history.with_outcome(Outcome.FAILED)),
        unknown=len(history.with_outcome(Outcome.UNKNOWN)),
        answers_503=sum(a.status == 503 for op in history.operations for a in op.answers),
    )
    for operation in history.operations:
        run = runs.get(operation.key)
        if operation.outcome is Outcome.FAILED:
            if run is not None:
                verdict.problems.append(
                    f"request {operation.key} was refused ({operation.status}) but run {run.id} "
                    "exists"
                )
            continue
        if operation.outcome is Outcome.OK:
            verdict.accepted += 1
            if run is None:
                verdict.lost.append(operation.execution_id or uuid.UUID(int=0))
                continue
        if run is None:
            continue
        if run.status == "completed":
            verdict.completed += 1
        elif run.status in FINAL_STATUSES:
            verdict.lost.append(run.id)
            verdict.lost_because[f"{run.status}: {(run.error or '')[:300]}"] += 1
        else:
            verdict.stalled.append(run.id)
    verdict.duplicated = await _duplicates(resources, history)
    verdict.problems.extend(await _end_state(resources))
    _timings(verdict, history, list(runs.values()))
    return verdict


def _timings(verdict: Verdict, history: History, runs: Sequence[_Run]) -> None:
    start, end = history.first_fault_start, history.last_fault_end
    if start is None or end is None:
        return
    latencies = [answer.latency for answer in history.during_faults() if answer.status == 202]
    verdict.accepted_p50 = percentile(latencies, 50)
    verdict.accepted_p99 = percentile(latencies, 99)
    in_flight = [
        run
        for run in runs
        if run.created_at.timestamp() <= end
        and (run.finished_at is None or run.finished_at.timestamp() >= start)
    ]
    verdict.recovered = sum(1 for run in in_flight if run.status == "completed")
    finished = [run.finished_at.timestamp() for run in in_flight if run.finished_at is not None]
    # Full flow is back once every run in flight finished; if one never did, it never was.
    if finished and len(finished) == len(in_flight):
        verdict.recovery_seconds = max(0.0, max(finished) - end)


#: Once every run is final, how long the rest may take to tidy up: an outbox row whose delete
#: was lost to the fault waits for the scheduler's relay, a duplicate message for its consumer.
TIDY_WITHIN_SECONDS = 15.0


async def _end_state(resources: Resources) -> list[str]:
    """The end state's problems once it stopped changing for the better, or at the deadline."""
    deadline = time.monotonic() + TIDY_WITHIN_SECONDS
    # Polling the database and the broker: there is nothing to await instead.
    while (problems := await end_state_problems(resources)) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.5)
    return problems


async def _runs(resources: Resources, history: History) -> dict[str, _Run]:
    """The run each request started, by its idempotency key."""
    keys = [op.key for op in history.operations]
    found: dict[str, _Run] = {}
    async with resources.sessions() as session:
        for i in range(0, len(keys), 1000):
            rows = await session.execute(
                select(
                    Execution.id,
                    Execution.idempotency_key,
                    Execution.status,
                    Execution.created_at,
                    Execution.finished_at,
                    Execution.error,
                ).where(Execution.idempotency_key.in_(keys[i : i + 1000]))
            )
            for row in rows:
                found[row.idempotency_key] = _Run(
                    row.id,
                    row.idempotency_key,
                    row.status,
                    row.created_at,
                    row.finished_at,
                    row.error,
                )
    return found


async def _duplicates(resources: Resources, history: History) -> list[str]:
    async with resources.sessions() as session:
        twice = await session.execute(
            select(ExecutionStep.execution_id, ExecutionStep.node_id, func.count())
            .where(ExecutionStep.status.in_(DONE_STEPS))
            .group_by(ExecutionStep.execution_id, ExecutionStep.node_id)
            .having(func.count() > 1)
        )
        found = [f"node {node} of {run} done {n} times" for run, node, n in twice]
        started_twice = await session.execute(
            select(Execution.idempotency_key, func.count())
            .where(Execution.idempotency_key.is_not(None))
            .group_by(Execution.workspace_id, Execution.idempotency_key)
            .having(func.count() > 1)
        )
        found += [f"request {key} started {n} runs" for key, n in started_twice]
    return found

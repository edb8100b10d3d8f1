"""The two engine phases: a burst of executions, then executions one at a time."""

import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from api import Api
from readings import (
    FINAL,
    Batch,
    failure_samples,
    finished,
    read_batch,
    status_of,
    wait_until_finished,
)


@dataclass(frozen=True)
class Burst:
    requested: int
    counts: dict[str, int]
    batch: Batch
    post_seconds: float
    failures: list[str]


async def burst(
    api: Api,
    db: asyncpg.Connection,
    workflow_id: str,
    *,
    count: int,
    in_flight: int,
    within: float,
    check: Callable[[], None],
) -> Burst:
    """POST `count` executions, at most `in_flight` at once, and wait until all are final."""
    gate = asyncio.Semaphore(in_flight)

    async def post(n: int) -> uuid.UUID:
        async with gate:
            return await api.start_execution(workflow_id, {"n": n})

    started = time.perf_counter()
    ids = await asyncio.gather(*(post(n) for n in range(count)))
    post_seconds = time.perf_counter() - started
    progress = Progress(len(ids))

    def on_progress(counts: dict[str, int]) -> None:
        check()
        progress(counts)

    counts = await wait_until_finished(db, ids, within=within, on_progress=on_progress)
    progress.done()
    failures = await failure_samples(db, ids) if counts.get("completed", 0) < count else []
    return Burst(
        requested=count,
        counts=counts,
        batch=await read_batch(db, ids),
        post_seconds=post_seconds,
        failures=failures,
    )


class Progress:
    """Shows a slow run is moving: one line rewritten in place on a terminal, else every few s."""

    def __init__(self, total: int, every_seconds: float = 5.0) -> None:
        self._total = total
        self._every = every_seconds
        self._last = 0.0
        self._in_place = sys.stdout.isatty()

    def __call__(self, counts: dict[str, int]) -> None:
        states = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
        text = f"   … {finished(counts)}/{self._total} final ({states})"
        if self._in_place:
            print(f"\r{text}\033[K", end="", flush=True)
        elif time.monotonic() - self._last >= self._every:
            self._last = time.monotonic()
            print(text, flush=True)

    def done(self) -> None:
        if self._in_place:
            print("\r\033[K", end="", flush=True)


@dataclass(frozen=True)
class OneAtATime:
    client_ms: list[float]
    batch: Batch
    not_completed: list[str]


async def one_at_a_time(
    api: Api,
    db: asyncpg.Connection,
    workflow_id: str,
    *,
    count: int,
    each_within: float,
    check: Callable[[], None],
    poll_seconds: float = 0.005,
) -> OneAtATime:
    """Each execution starts after the previous one is final; the client times POST → final."""
    ids: list[uuid.UUID] = []
    client_ms: list[float] = []
    for n in range(count):
        started = time.perf_counter()
        execution_id = await api.start_execution(workflow_id, {"n": n})
        deadline = started + each_within
        while await status_of(db, execution_id) not in FINAL:
            check()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"execution {execution_id} not final within {each_within}s")
            await asyncio.sleep(poll_seconds)
        client_ms.append((time.perf_counter() - started) * 1000)
        ids.append(execution_id)
    return OneAtATime(
        client_ms=client_ms,
        batch=await read_batch(db, ids),
        not_completed=await failure_samples(db, ids),
    )

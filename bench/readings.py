"""What the database says about a batch of executions: progress, window, steps, latencies.

Timings come from the rows the services wrote (`created_at` by the gateway, `finished_at` by
an executor), so the figures do not depend on how often the benchmark polls.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

FINAL = ("completed", "failed", "cancelled")


async def status_counts(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM executions WHERE id = ANY($1::uuid[]) GROUP BY status",
        list(ids),
    )
    return {row["status"]: row["n"] for row in rows}


def finished(counts: dict[str, int]) -> int:
    return sum(counts.get(status, 0) for status in FINAL)


async def wait_until_finished(
    conn: asyncpg.Connection,
    ids: Sequence[uuid.UUID],
    *,
    within: float,
    on_progress: Callable[[dict[str, int]], None],
    interval: float = 0.25,
) -> dict[str, int]:
    """Poll until every execution is final or `within` seconds pass; the last counts either way."""
    deadline = time.monotonic() + within
    while True:
        counts = await status_counts(conn, ids)
        on_progress(counts)
        if finished(counts) >= len(ids) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(interval)


async def status_of(conn: asyncpg.Connection, execution_id: uuid.UUID) -> str:
    status: str = await conn.fetchval("SELECT status FROM executions WHERE id = $1", execution_id)
    return status


@dataclass(frozen=True)
class Batch:
    finished: int
    window_seconds: float
    steps: int
    latencies_ms: list[float]
    #: Steps completed in each tenth of the window: shows the ramp-up and the tail.
    timeline: list[int]


async def read_batch(conn: asyncpg.Connection, ids: Sequence[uuid.UUID]) -> Batch:
    """Window = first accepted to last finished, over the executions that finished."""
    rows = await conn.fetch(
        "SELECT created_at, finished_at FROM executions"
        " WHERE id = ANY($1::uuid[]) AND finished_at IS NOT NULL",
        list(ids),
    )
    steps = await conn.fetchval(
        "SELECT count(*) FROM execution_steps WHERE execution_id = ANY($1::uuid[])", list(ids)
    )
    if not rows:
        return Batch(finished=0, window_seconds=0.0, steps=steps, latencies_ms=[], timeline=[])
    first, last = min(r["created_at"] for r in rows), max(r["finished_at"] for r in rows)
    latencies = [(r["finished_at"] - r["created_at"]).total_seconds() * 1000 for r in rows]
    return Batch(
        finished=len(rows),
        window_seconds=(last - first).total_seconds(),
        steps=steps,
        latencies_ms=latencies,
        timeline=await _timeline(conn, ids, first, last, tenths=10),
    )


async def _timeline(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], first: Any, last: Any, *, tenths: int
) -> list[int]:
    """Steps completed in each of `tenths` equal parts of first → last."""
    # width_bucket puts `last` itself in part tenths + 1: it belongs to the last part.
    rows = await conn.fetch(
        "SELECT least(width_bucket(extract(epoch FROM completed_at),"
        " extract(epoch FROM $2::timestamptz), extract(epoch FROM $3::timestamptz), $4), $4)"
        " AS part, count(*) AS n"
        " FROM execution_steps WHERE execution_id = ANY($1::uuid[]) AND completed_at IS NOT NULL"
        " GROUP BY 1",
        list(ids),
        first,
        last,
        tenths,
    )
    counts = [0] * tenths
    for row in rows:
        if 1 <= row["part"] <= tenths:
            counts[row["part"] - 1] = row["n"]
    return counts


async def failure_samples(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], limit: int = 3
) -> list[str]:
    rows = await conn.fetch(
        "SELECT id, status, error FROM executions"
        " WHERE id = ANY($1::uuid[]) AND status <> 'completed' LIMIT $2",
        list(ids),
        limit,
    )
    return [f"{r['id']} {r['status']}: {r['error']}" for r in rows]


@dataclass(frozen=True)
class DatabaseCounters:
    """Cumulative counters of one database. PostgreSQL publishes a busy backend's counts at
    most a second late, and the benchmark's own polling is counted too (a few per second), so
    a difference over a phase of tens of seconds is close, not exact."""

    commits: int
    rollbacks: int
    inserted: int
    updated: int

    def __sub__(self, other: "DatabaseCounters") -> "DatabaseCounters":
        return DatabaseCounters(
            commits=self.commits - other.commits,
            rollbacks=self.rollbacks - other.rollbacks,
            inserted=self.inserted - other.inserted,
            updated=self.updated - other.updated,
        )


#: PostgreSQL backends report their counters to pg_stat_database at most once a second.
STATS_DELAY_SECONDS = 1.2


async def database_counters(conn: asyncpg.Connection) -> DatabaseCounters:
    """The database's counters once what came before has been reported."""
    await asyncio.sleep(STATS_DELAY_SECONDS)
    row = await conn.fetchrow(
        "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated"
        " FROM pg_stat_database WHERE datname = current_database()"
    )
    return DatabaseCounters(
        commits=row["xact_commit"],
        rollbacks=row["xact_rollback"],
        inserted=row["tup_inserted"],
        updated=row["tup_updated"],
    )

"""Resuming a batch of parked runs at once, and the CPU lines every phase of
bench/events.py prints."""

import asyncio
import time
import uuid
from datetime import datetime
from typing import NamedTuple

import aiohttp
import asyncpg
from cpu import CpuUse
from cpu import measured as services_measured
from event_waits import all_completed, deliver_all
from figures import heading, line
from host_cpu import HostUse
from host_cpu import measured as host_measured
from machine import speed
from stack import Stack
from target import Target

#: Seconds for every backend to report its buffer counts (PGSTAT_IDLE_INTERVAL, and a margin).
STATS_SETTLE_SECONDS = 11.0


def cpu_lines(services: CpuUse, host: HostUse, per: int | None, wall: float) -> float:
    """Print each process's CPU (per operation when `per`), return the stack's cores."""
    total = 0.0
    parts = [(name, s.total) for name, s in sorted(services.by_service.items())]
    for name, used in (
        ("postgresql (this database)", host.database),
        ("rabbitmq (whole broker)", host.broker),
    ):
        if used is not None:
            parts.append((name, used.total))
    for name, seconds in parts:
        total += seconds
        each = f"{seconds / per * 1000:.2f} ms each" if per else ""
        line(f"CPU {name}", f"{seconds / wall:.3f} cores", each)
    if host.load_generator is not None:
        # Not DocFlow's: the HTTP client and the database polls of this script, which share
        # the machine with the stack (left out of the stack's total).
        generator = host.load_generator.total
        each = f"{generator / per * 1000:.2f} ms each" if per else ""
        line("CPU load generator (this script)", f"{generator / wall:.3f} cores", each)
    if host.machine_busy is not None:
        line("machine busy (everything)", f"{host.machine_busy * 100:.0f} %")
    return total / wall


class Burst(NamedTuple):
    resumes_per_second: float
    steps_per_second: float
    #: The machine's speed just before (bench/machine.py): CPU seconds of a fixed loop.
    speed: float


async def resumed_burst(
    label: str, ids: list[uuid.UUID], after: int,
    http: aiohttp.ClientSession, key: str, stack: Stack, target: Target, db: asyncpg.Connection,
) -> Burst:  # fmt: skip
    """All events at once (100 in flight)."""
    machine = speed()
    before = await buffer_reads(db)
    maintained = await maintenance_counts(db)
    with services_measured(stack.services) as cpu, host_measured(target.database) as host:
        began = time.monotonic()
        sent = await deliver_all(http, stack.base_url, key, ids, rate=None)
        last = await all_completed(db, ids, within=300)
        wall = time.monotonic() - began
    first: datetime = min(sent.values())
    seconds = (last - first).total_seconds()
    resumed = await db.fetchval(
        "SELECT max(t.at) FROM execution_transitions t WHERE t.execution_id = ANY($1::uuid[]) "
        "AND t.from_status = 'paused' AND t.to_status = 'running'",
        ids,
    )
    resumes = len(ids) / (resumed - first).total_seconds()
    steps = len(ids) * (after + 1) / seconds  # the event node's own completion counts
    heading(label)
    line("resumes/s", f"{resumes:,.0f}", "first POST → last run claimed")
    line("steps/s after the wait", f"{steps:,.0f}", f"event node + {after} set nodes each")
    cpu_lines(cpu, host, len(ids), wall)
    line("speed, just before", f"{machine:.3f} s", "CPU of one fixed loop; larger is slower")
    # A backend reports its buffer counts at most a second after its transaction, and an idle
    # one within PostgreSQL's idle interval (10 s): waited out, so every resume is counted.
    await asyncio.sleep(STATS_SETTLE_SECONDS)
    read, hit = (after - was for after, was in zip(await buffer_reads(db), before, strict=True))
    line("blocks read / found in shared buffers", f"{read / len(ids):.1f} / {hit / len(ids):.1f}",
         "per resumed run, this database (a read may still come from the OS's cache)")  # fmt: skip
    during = sorted(set((await maintenance_counts(db)).items()) - set(maintained.items()))
    line("autovacuum meanwhile", ", ".join(name for name, _ in during) or "none",
         "its CPU counts as the database's")  # fmt: skip
    return Burst(resumes, steps, machine)


async def maintenance_counts(db: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    """Autovacuum's and autoanalyze's runs so far, by table of this database."""
    await db.execute("SELECT pg_stat_clear_snapshot()")
    rows = await db.fetch(
        "SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
    )
    return {r["relname"]: (r["autovacuum_count"], r["autoanalyze_count"]) for r in rows}


async def buffer_reads(db: asyncpg.Connection) -> tuple[int, int]:
    """This database's blocks read into shared buffers, and found there, so far."""
    await db.execute("SELECT pg_stat_clear_snapshot()")
    row = await db.fetchrow(
        "SELECT blks_read, blks_hit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(row["blks_read"]), int(row["blks_hit"])

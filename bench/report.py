"""The benchmark's printed report: figures next to their targets."""

import os

from cpu import CpuUse
from figures import heading, line, percentile, spread_ms, verdict
from floor import Floor
from host_cpu import HostUse
from phases import Burst, OneAtATime
from readings import DatabaseCounters
from target import Target

TRANSITIONS_TARGET = 1500.0
FLOOR_RATIO_TARGET = 0.3
LOW_LOAD_P50_TARGET_MS = 150.0


def header(target: Target) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"DocFlow engine benchmark: {os.cpu_count()} CPUs, load average {load}\n"
        f"PostgreSQL {target.pg_host}:{target.pg_port} database {target.database}, "
        f"queue prefix {target.queue_prefix}",
        flush=True,
    )


def floor(result: Floor) -> None:
    heading(
        f"1. Floor: single-row versioned UPDATE commits, plain asyncpg, autocommit, "
        f"{result.connections} connections, {result.seconds:.1f} s"
    )
    line("commits/s", f"{result.per_second:,.0f}")
    line("client CPU per commit", f"{result.client_cpu_per_commit_ms:.3f} ms")


def burst(result: Burst, floor: Floor) -> None:
    batch = result.batch
    states = ", ".join(f"{n} {status}" for status, n in sorted(result.counts.items()))
    line("final states", states)
    line("POSTs accepted in", f"{result.post_seconds:.2f} s")
    if not batch.finished or batch.window_seconds <= 0:
        print("   nothing finished; no figures")
        return
    transitions = batch.steps / batch.window_seconds
    ratio = transitions / floor.per_second
    line("window (created → finished)", f"{batch.window_seconds:.2f} s")
    line("executions/s", f"{batch.finished / batch.window_seconds:,.1f}")
    line(
        "node transitions/s",
        f"{transitions:,.0f}",
        f"target ≥ {TRANSITIONS_TARGET:,.0f}: {verdict(transitions >= TRANSITIONS_TARGET)}",
    )
    line(
        "… as a ratio of the floor",
        f"{ratio:.2f}",
        f"target ≥ {FLOOR_RATIO_TARGET}: {verdict(ratio >= FLOOR_RATIO_TARGET)}",
    )
    line("latency (created → finished)", "", spread_ms(batch.latencies_ms))
    line("transitions by tenth of the window", "", " ".join(f"{n:,}" for n in batch.timeline))
    for failure in result.failures:
        print(f"   not completed: {failure}")


def cpu(use: CpuUse, executions: int, transitions: int) -> None:
    if not use.by_service:
        return
    per_service = ", ".join(f"{name} {s.total:.1f}" for name, s in use.by_service.items())
    line("CPU s during the burst", "", per_service)
    if use.machine_busy is not None:
        line("machine busy during the burst", f"{100 * use.machine_busy:.0f} %")
    costs = (("executor", "transition", transitions), ("gateway", "POST", executions))
    for prefix, per, count in costs:
        used = use.seconds(prefix)
        if count and used.total:
            line(
                f"{prefix} CPU per {per}",
                f"{1000 * used.total / count:.2f} ms",
                f"{100 * used.system / used.total:.0f} % of it in the kernel",
            )


def host(use: HostUse, transitions: int) -> None:
    """What the processes the services lean on used, per node transition."""
    if not transitions:
        return
    for name, seconds, note in (
        ("PostgreSQL", use.database, "backends of the bench database"),
        ("RabbitMQ", use.broker, "the whole broker, shared with whatever else runs"),
        ("load generator", use.load_generator, "this script: HTTP client and polling"),
    ):
        if seconds is not None:
            line(f"{name} CPU per transition", f"{1000 * seconds.total / transitions:.2f} ms", note)


def database(counters: DatabaseCounters, transitions: int) -> None:
    if not transitions:
        return
    commits, rollbacks = counters.commits / transitions, counters.rollbacks / transitions
    inserted, updated = counters.inserted / transitions, counters.updated / transitions
    line(
        "DB transactions per transition",
        f"{commits + rollbacks:.2f}",
        f"{commits:.2f} commits, {rollbacks:.2f} rollbacks (approximate)",
    )
    line(
        "DB rows written per transition",
        f"{inserted + updated:.2f}",
        f"{inserted:.2f} inserted, {updated:.2f} updated",
    )


def one_at_a_time(result: OneAtATime) -> None:
    client_p50 = percentile(result.client_ms, 0.5)
    line("client: POST → final", "", spread_ms(result.client_ms))
    line("database: created → finished", "", spread_ms(result.batch.latencies_ms))
    line(
        "",
        "",
        f"target p50 < {LOW_LOAD_P50_TARGET_MS:.0f} ms (client): "
        f"{verdict(client_p50 < LOW_LOAD_P50_TARGET_MS)}",
    )
    for failure in result.not_completed:
        print(f"   not completed: {failure}")

"""Event waits: resume latency, bursts, quiet cost and parked runs: `.venv/bin/python
bench/events.py --help`.

Real processes (gateway, two executors, scheduler; the notifier too for phase 3) on
PostgreSQL and RabbitMQ. Phases:
1. steady: `--waits` runs parked on an `event` wait, their events POSTed at `--rate`/s;
   latency from the POST to the next node's `started_at`, and the cores the whole stack used
   (services, the database's backends, the broker);
2. bursts, `--rounds` times: 1,000 runs of 10 `set` nodes without a wait (steps/s); 1,000
   runs of 5 set nodes, an `event` wait and 5 set nodes, parked, then all events POSTed at
   once (steps/s after the wait, resumes/s); the verdicts on the rounds' medians;
3. parked (bench/parked.py): 1,000 runs parked and resumed at once (3a), then `--parked`
   runs parked, half on event waits and half on approval gates (the notifier prints their
   e-mails), then `--idle` seconds with nothing to do (CPU of every process, memory, the
   scheduler's and the notifier's periodic statements EXPLAINed, taken from their code),
   then 1,000 of them resumed at once (3b, resumes/s against 3a's).

It creates and drops its own database and queues and stops every process it started. Figures
move with whatever else the machine runs: CPU per operation is the steadier one.
"""

import argparse
import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from statistics import median

import aiohttp
import asyncpg
from api import Api, chain_of_set_nodes, new_api_key
from cpu import measured as services_measured
from event_waits import (
    all_completed,
    breakdown,
    deliver_all,
    park,
    started_after,
    waiting_workflow,
)
from figures import heading, line, percentile, verdict
from host_cpu import measured as host_measured
from machine import floor, speed
from parked import parked_idle
from profiling import print_py_spy, py_spy_output, sampled
from resume_burst import cpu_lines, resumed_burst
from stack import Stack, running_stack
from target import Target, add_target_args, log_folder, own_database, own_queues, target_for

from shared.db.migrate import upgrade_async

P50_TARGET_MS, P99_TARGET_MS = 3.0, 6.0
STEPS_AFTER_WAIT_TARGET = 2900.0
QUIET_CORES_TARGET = 0.49


async def steady(
    args: argparse.Namespace, api: Api, http: aiohttp.ClientSession, key: str,
    stack: Stack, target: Target, db: asyncpg.Connection,
) -> None:  # fmt: skip
    workflow_id = await api.create_workflow(waiting_workflow(0, 1))
    ids = await park(api, db, target, workflow_id, args.waits)
    started = time.monotonic()
    with services_measured(stack.services) as cpu, host_measured(target.database) as host:
        answered: dict[uuid.UUID, float] = {}
        sent = await deliver_all(http, stack.base_url, key, ids, rate=args.rate, answered=answered)
        next_started = await started_after(db, "a0", sent, within=120)
        await all_completed(db, ids, within=120)
    wall = time.monotonic() - started
    latencies = [(next_started[e] - sent[e]).total_seconds() * 1000 for e in ids]
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    heading(f"1. Steady: {args.waits} event waits resumed at {args.rate:g}/s ({wall:.1f} s)")
    for name, values in (await breakdown(db, sent, "a0")).items():
        line(name, f"p50 {percentile(values, 0.5):.1f} ms", f"p99 {percentile(values, 0.99):.1f}")
    answers = list(answered.values())
    p50_answer, p99_answer = percentile(answers, 0.5), percentile(answers, 0.99)
    line("POST → answered (the client)", f"p50 {p50_answer:.1f} ms", f"p99 {p99_answer:.1f}")
    line("resume p50", f"{p50:.1f} ms", f"target ≤ {P50_TARGET_MS:g} ms: {verdict(p50 <= 3)}")
    line("resume p99", f"{p99:.1f} ms", f"target ≤ {P99_TARGET_MS:g} ms: {verdict(p99 <= 6)}")
    line("max", f"{max(latencies):.1f} ms")
    cores = cpu_lines(cpu, host, len(ids), wall)
    met = verdict(cores <= QUIET_CORES_TARGET)
    line("whole stack", f"{cores:.3f} cores", f"target ≤ {QUIET_CORES_TARGET} cores: {met}")
    await print_floor(args, target)


async def print_floor(args: argparse.Namespace, target: Target) -> None:
    """The machine's own share of the latency (bench/machine.py), read right after it."""
    heading(f"   the machine, at {args.rate:g}/s (p50)")
    found = await floor(target, rate=args.rate)
    paced, back_to_back = found.paced_round_trip_ms, found.back_to_back_round_trip_ms
    line("SELECT 1, paced", f"{paced:.2f} ms", f"back to back {back_to_back:.2f} ms")
    line("quorum-queue hop, paced", f"{found.broker_hop_ms:.2f} ms", "publish → delivered")
    line("speed", f"{speed():.3f} s", "CPU of one fixed loop (bench/machine.py); larger is slower")


async def bursts(
    args: argparse.Namespace, api: Api, http: aiohttp.ClientSession, key: str, stack: Stack,
    target: Target, db: asyncpg.Connection, log_dir: Path,
) -> None:  # fmt: skip
    """Phase 2, `--rounds` times (new runs each round): one burst lasts about two seconds, so
    a single one moves with whatever the machine did meanwhile; the verdicts take medians."""
    plain_id = await api.create_workflow(chain_of_set_nodes(10))
    waiting_id = await api.create_workflow(waiting_workflow(5, 5))
    plain: list[float] = []
    resumed: list[float] = []
    for round_ in range(1, args.rounds + 1):
        of = f"round {round_}/{args.rounds}"
        plain.append(await no_wait_burst(api, stack, target, db, plain_id, args.burst, of))
        ids = await park(api, db, target, waiting_id, args.burst)
        # py-spy samples the first round's 2b only.
        async with profiled(args, stack, log_dir, sample=round_ == 1):
            burst = await resumed_burst(
                f"2b. {of}: {args.burst} runs waiting after step 5, all at once",
                ids, 5, http, key, stack, target, db,
            )  # fmt: skip
        resumed.append(burst.steps_per_second)
    steps, no_wait = median(resumed), median(plain)
    heading(f"2b against 2a, medians of {args.rounds} rounds")
    line("steps/s, no wait → after the wait", f"{no_wait:,.0f} → {steps:,.0f}")
    absolute = verdict(steps >= STEPS_AFTER_WAIT_TARGET)
    line("target steps/s after the wait", f"≥ {STEPS_AFTER_WAIT_TARGET:,.0f}", absolute)
    line("against 2a", f"{steps / no_wait:.3f}", f"≥ 0.5: {verdict(steps >= no_wait / 2)}")


async def no_wait_burst(
    api: Api, stack: Stack, target: Target, db: asyncpg.Connection, workflow_id: str,
    count: int, of: str,
) -> float:  # fmt: skip
    gate = asyncio.Semaphore(50)

    async def start(n: int) -> uuid.UUID:
        async with gate:
            return await api.start_execution(workflow_id, {"n": n})

    with services_measured(stack.services) as cpu, host_measured(target.database) as host:
        began = time.monotonic()
        ids = list(await asyncio.gather(*(start(n) for n in range(count))))
        await all_completed(db, ids, within=300)
        wall = time.monotonic() - began
    window = await db.fetchrow(
        "SELECT min(started_at) AS first, max(completed_at) AS last, count(*) AS steps "
        "FROM execution_steps WHERE execution_id = ANY($1::uuid[])",
        ids,
    )
    seconds: float = (window["last"] - window["first"]).total_seconds()
    rate = float(window["steps"]) / seconds
    heading(f"2a. {of}: no wait, {count} runs of 10 set nodes POSTed, 50 in flight")
    line("steps/s", f"{rate:,.0f}", "first step started → last completed")
    cpu_lines(cpu, host, window["steps"], wall)
    return rate


@contextlib.asynccontextmanager
async def profiled(
    args: argparse.Namespace, stack: Stack, log_dir: Path, *, sample: bool = True
) -> AsyncIterator[None]:
    """With `--py-spy`: sample executor-0 and the gateway, and print where their time went."""
    if not (args.py_spy and sample):
        yield
        return
    async with sampled(stack.sampled_services, log_dir):
        yield
    for service in stack.sampled_services:
        print_py_spy(py_spy_output(log_dir, service), service.name)


async def measure(args: argparse.Namespace, target: Target, log_dir: Path) -> None:
    async with own_database(target), own_queues(target):
        await upgrade_async(target.database_url)
        async with running_stack(
            target,
            executors=args.executors,
            prefetch=None,
            log_dir=log_dir,
            cprofile_to=None,
            notifier="parked" in args.phases,
        ) as stack:
            key = await new_api_key(target.settings())
            db = await asyncpg.connect(target.dsn())
            try:
                async with aiohttp.ClientSession() as http:
                    api = Api(http, stack.base_url, key)
                    if "steady" in args.phases:
                        async with profiled(args, stack, log_dir):
                            await steady(args, api, http, key, stack, target, db)
                    if "burst" in args.phases:
                        await bursts(args, api, http, key, stack, target, db, log_dir)
                    if "parked" in args.phases:
                        await parked_idle(args, http, key, stack, target, db, api)
            finally:
                await db.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--waits", type=int, default=500, help="waits in the steady phase (default 500)")
    add("--rate", type=float, default=20.0, help="events per second, steady phase")
    add("--burst", type=int, default=1000, help="runs per burst (default 1000)")
    add("--parked", type=int, default=100_000, help="runs parked in phase 3 (default 100,000)")
    add("--in-flight", type=int, default=100, help="run requests in flight while parking")
    add("--idle", type=float, default=60.0, help="idle seconds measured in phase 3")
    add("--rounds", type=int, default=3, help="rounds of phase 2, bursts of 3a and 3b (default 3)")
    add("--phases", default="steady,burst,parked", help="which phases, comma-separated")
    add("--executors", type=int, default=2, help="executor processes (default 2)")
    add("--py-spy", action="store_true", help="sample executor-0 and the gateway (1, 2b)")
    add("--keep-logs", type=Path, default=None, help="copy the services' logs to this folder")
    add_target_args(add)
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    target = target_for(args, "events")
    with log_folder("events", args.keep_logs) as log_dir:
        await measure(args, target, log_dir)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

"""Phase 3 of bench/events.py: many runs parked on `event` and approval waits cost nothing.

Half the runs wait on an `event` node, half on a `human-in-loop` gate (one approver, whose
e-mail the notifier prints to its log), both with a deadline and the gate with reminders a
day away, so the scheduler's due-work indexes hold every parked row. Then `--idle` seconds
with nothing to do: CPU of every service, of the database's backends and of the broker, RSS
of each service, and the plan of every statement the scheduler and the notifier run on their
clock. 1,000 of the parked runs are then resumed at once (3b) against 1,000 with few parked
(3a), `--rounds` times each, with different runs each round; the medians are compared, as
they are and at the same machine speed (bench/machine.py).
"""

import argparse
import asyncio
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp
import asyncpg
from api import Api
from cpu import measured as services_measured
from due_work import captured, explained, scans_growing_table
from event_waits import EVENT, analyze_as_autovacuum_would, park, wait_for
from figures import heading, line, verdict
from host_cpu import measured as host_measured
from resume_burst import Burst, cpu_lines, resumed_burst
from stack import Stack
from target import Target, queue_depth

from shared.broker.topology import EMAIL, RESUME

PARKED_IDLE_CORES_TARGET = 0.05
#: Far enough that nothing falls due while measuring, near enough to be in the indexes.
DEADLINE = "7d"
REMINDER_EVERY = "1d"


def event_workflow() -> dict[str, Any]:
    return {
        "name": "bench-parked-event",
        "nodes": [
            {"id": "wait", "type": "event", "position": 0,
             "config": {"name": EVENT, "expires_in": DEADLINE}},
            {"id": "a0", "type": "set", "position": 1, "config": {"values": {"i": 0}}},
        ],
    }  # fmt: skip


def approval_workflow() -> dict[str, Any]:
    return {
        "name": "bench-parked-approval",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "gate", "type": "human-in-loop", "position": 1,
             "config": {"approvers": [{"email": "approver@bench.test"}], "subject": "Bench",
                        "expires_in": DEADLINE, "reminder_every": REMINDER_EVERY}},
            {"id": "next", "type": "set", "position": 2, "config": {"values": {"done": True}}},
        ],
    }  # fmt: skip


def rss_kib(pid: int) -> int | None:
    try:
        for text in Path(f"/proc/{pid}/status").read_text().splitlines():
            if text.startswith("VmRSS:"):
                return int(text.split()[1])
    except OSError:
        return None
    return None


async def park_both(
    api: Api, db: asyncpg.Connection, target: Target, count: int, *, in_flight: int
) -> tuple[list[uuid.UUID], list[uuid.UUID], float]:
    """Start `count` runs, every other one on each workflow, as fast as the gateway takes
    them; return (event runs, approval runs, seconds) once every run waits, every approval
    e-mail was printed and the queues are empty."""
    event_wf = await api.create_workflow(event_workflow())
    approval_wf = await api.create_workflow(approval_workflow())
    sent_before = await db.fetchval("SELECT count(*) FROM email_deliveries WHERE status = 'sent'")
    gate = asyncio.Semaphore(in_flight)
    began = time.monotonic()
    posted = [0]
    refused_before = api.refused

    async def start(n: int) -> uuid.UUID:
        async with gate:
            workflow_id = event_wf if n % 2 else approval_wf
            execution_id = await api.start_execution_retried(workflow_id, {"n": n})
        posted[0] += 1
        if posted[0] % 10_000 == 0:
            line("   POSTed", f"{posted[0]:,}", f"{time.monotonic() - began:.0f} s")
        return execution_id

    ids = list(await asyncio.gather(*(start(n) for n in range(count))))
    post_seconds = time.monotonic() - began
    events, approvals = ids[1::2], ids[0::2]

    paused_at: list[float] = []
    shown = [time.monotonic()]

    async def all_parked() -> bool:
        waiting = await db.fetchval(
            "SELECT count(*) FROM waits w JOIN executions e ON e.id = w.execution_id "
            "WHERE w.kind IN ('event', 'approval') AND w.status = 'open' AND e.status = 'paused'"
        )
        sent = await db.fetchval("SELECT count(*) FROM email_deliveries WHERE status = 'sent'")
        sent -= sent_before
        if waiting >= count and not paused_at:
            paused_at.append(time.monotonic())
        if time.monotonic() - shown[0] >= 30:
            shown[0] = time.monotonic()
            at = f"{shown[0] - began:.0f} s"
            line("   waiting / e-mails sent", f"{waiting:,} / {sent:,}", at)
        return bool(waiting >= count and sent >= len(approvals))

    await wait_for(all_parked, within=300 + count / 20, what=f"{count} parked", every=2.0)

    async def queues_empty() -> bool:
        return await queue_depth(target, RESUME) == 0 and await queue_depth(target, EMAIL) == 0

    await wait_for(queues_empty, within=120, what="queues empty", every=0.5)
    seconds = time.monotonic() - began
    refused = api.refused - refused_before
    line("POSTs accepted", f"{count / post_seconds:,.0f} /s", f"{post_seconds:.0f} s")
    line("503 answered, asked again", f"{refused:,}", f"{in_flight} requests in flight")
    every_paused = paused_at[0] - began
    line("every run waiting", f"{count / every_paused:,.0f} runs/s", f"{every_paused:.0f} s")
    line("… and every e-mail sent", f"{count / seconds:,.0f} runs/s", f"{seconds:.0f} s")
    return events, approvals, seconds


def rss_line(name: str, readings: list[int | None]) -> None:
    text = " → ".join("?" if r is None else f"{r / 1024:.1f}" for r in readings)
    line(f"RSS {name}", f"{text} MiB")


async def print_due_work(target: Target, db: asyncpg.Connection) -> bool:
    """EXPLAIN ANALYZE each statement the periodic duties sent; True when none scans a
    table that grows with the parked runs."""
    heading("   periodic statements of the scheduler and the notifier, over the parked runs")
    clean = True
    for statement in await captured(target.settings()):
        plan = await explained(db, statement)
        scanned = scans_growing_table(plan)
        clean = clean and not scanned
        first = " ".join(statement.sql.split())[:110]
        print(f"   -- {statement.duty}: {first}…")
        for text in plan:
            print(f"      {text}")
        if scanned:
            print(f"      NOT MET: Seq Scan on {', '.join(scanned)}")
    return clean


async def parked_idle(
    args: argparse.Namespace,
    http: aiohttp.ClientSession,
    key: str,
    stack: Stack,
    target: Target,
    db: asyncpg.Connection,
    api: Api,
) -> None:
    workflow_id = await api.create_workflow(event_workflow())
    few_parked = []
    for round_ in range(1, args.rounds + 1):
        few = await park(api, db, target, workflow_id, args.burst)
        label = f"3a. round {round_}/{args.rounds}: {len(few):,} runs parked, all resumed at once"
        few_parked.append(await resumed_burst(label, few, 1, http, key, stack, target, db))
    rss_start = {s.name: rss_kib(s.pid) for s in stack.services}
    heading(f"3. Parked: {args.parked:,} runs, half on event waits, half on approval gates")
    events, _, _ = await park_both(api, db, target, args.parked, in_flight=args.in_flight)
    await asyncio.sleep(5)  # let the parking's tail (events, outbox deletes) settle
    if await analyze_as_autovacuum_would(db):
        line("VACUUM ANALYZE", "run by the bench", "autovacuum is off on this server")
    rss_before = {s.name: rss_kib(s.pid) for s in stack.services}
    with services_measured(stack.services) as cpu, host_measured(target.database) as host:
        await asyncio.sleep(args.idle)
    rss_after = {s.name: rss_kib(s.pid) for s in stack.services}
    heading(f"   idle {args.idle:g} s")
    cores = cpu_lines(cpu, host, None, args.idle)
    # The broker is shared with whatever else runs here: its figure is an upper bound, so the
    # target is judged on the rest as well.
    broker = host.broker.total / args.idle if host.broker is not None else 0.0
    for label, used in (("all", cores), ("all but the shared broker", cores - broker)):
        met = verdict(used <= PARKED_IDLE_CORES_TARGET)
        line(label, f"{used:.4f} cores", f"target ≤ {PARKED_IDLE_CORES_TARGET}: {met}")
    heading("   memory: after 3a → parked → after the idle window")
    for name in sorted(rss_before):
        rss_line(name, [rss_start[name], rss_before[name], rss_after[name]])
    indexed = await print_due_work(target, db)
    line("due work uses indexes", verdict(indexed))
    # Different runs each round, as many rounds as the parked event waits allow.
    starts = range(0, min(len(events), args.rounds * args.burst), args.burst)
    samples = [events[at : at + args.burst] for at in starts]
    many_parked = []
    for round_, sample in enumerate(samples, start=1):
        label = (
            f"3b. round {round_}/{len(samples)}: {len(sample):,} of the {args.parked:,} parked "
            "runs (event waits) resumed at once"
        )
        many_parked.append(await resumed_burst(label, sample, 1, http, key, stack, target, db))
    print_against(few_parked, many_parked)


def print_against(few_parked: list[Burst], many_parked: list[Burst]) -> None:
    """3b against 3a, on the rounds' medians; and at the same machine speed, since the two
    are measured half an hour apart on a machine whose speed drifts by a third in an hour."""
    few = median(b.resumes_per_second for b in few_parked)
    many = median(b.resumes_per_second for b in many_parked)
    ratio = many / few
    heading(f"3b against 3a, medians of {len(few_parked)} and {len(many_parked)} rounds")
    line("resumes/s", f"{few:,.0f} → {many:,.0f}")
    line("against 3a", f"{ratio:.2f} x", f"target about 1: {verdict(ratio >= 0.8)}")
    speed_few = median(b.speed for b in few_parked)
    speed_many = median(b.speed for b in many_parked)
    line(
        "… at 3a's machine speed",
        f"{ratio * speed_many / speed_few:.2f} x",
        f"speed {speed_few:.3f} → {speed_many:.3f} s (larger is slower)",
    )

"""Approval resume latency: `.venv/bin/python bench/approvals.py --help`.

From the deciding POST on an approval page to the `started_at` of the node after the gate
(its execution_steps row), over real processes: gateway, two executors, notifier, scheduler,
on PostgreSQL and RabbitMQ. Two phases of `--gates` gates each: decided at a steady rate
(default 20/s), then all at once. Links are read the way a newcomer reads them: from the
notifier's console output (no SMTP configured).

It creates and drops its own database and queues and stops every process it started. It
reuses the engine benchmark's sibling modules (target, stack, api, figures) by plain name.
"""

import argparse
import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from api import Api, new_api_key
from cpu import measured as cpu_measured
from event_waits import analyze_as_autovacuum_would
from figures import heading, line, percentile
from stack import Stack, cli, running_stack, service_env, spawn, stop
from target import Target, add_target_args, log_folder, own_database, own_queues, target_for

from shared.approval_links import token_hash
from shared.db.migrate import upgrade_async

P50_TARGET_MS, P99_TARGET_MS = 15.0, 50.0
LINK = re.compile(r"https?://\S+/approve/(?P<token>[A-Za-z0-9_-]{43})")
CSRF = re.compile(r'name="csrf" value="(?P<csrf>[^"]+)"')


def gate_workflow() -> dict[str, Any]:
    return {
        "name": "bench-approval",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "gate",
                "type": "human-in-loop",
                "position": 1,
                "config": {"approvers": [{"email": "approver@bench.test"}], "subject": "Bench"},
            },
            {"id": "next", "type": "set", "position": 2, "config": {"values": {"done": True}}},
        ],
    }


async def wait_for(probe: Any, *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {within:.0f}s")
        await asyncio.sleep(0.2)


def links_in(log: Path) -> list[str]:
    """Each printed e-mail shows its link twice (body and link list): once each, in order."""
    found = (m["token"] for m in LINK.finditer(log.read_text(errors="replace")))
    return list(dict.fromkeys(found))


async def open_gates(
    api: Api, workflow_id: str, count: int, log: Path, db: asyncpg.Connection
) -> dict[uuid.UUID, str]:
    """Start `count` runs and return execution id → token once every e-mail was printed."""
    before = len(links_in(log))
    semaphore = asyncio.Semaphore(20)

    async def start() -> uuid.UUID:
        async with semaphore:
            return await api.start_execution(workflow_id, {})

    started = set(await asyncio.gather(*(start() for _ in range(count))))

    async def printed() -> list[str]:
        tokens = links_in(log)[before:]
        return tokens if len(tokens) >= count else []

    tokens = await wait_for(printed, within=300, what=f"{count} e-mails printed")
    by_hash = {token_hash(t): t for t in tokens}

    async def committed() -> list[asyncpg.Record]:
        # The console transport prints inside the delivery's transaction: a link can be in the
        # log a moment before its token row is committed.
        rows = await db.fetch(
            "SELECT a.execution_id, t.token_hash FROM approval_tokens t "
            "JOIN approvals a ON a.id = t.approval_id WHERE t.token_hash = ANY($1::text[])",
            list(by_hash),
        )
        return rows if len(rows) == len(by_hash) else []

    rows = await wait_for(committed, within=30, what="every printed link committed")
    gates = {row["execution_id"]: by_hash[row["token_hash"]] for row in rows}
    assert set(gates) == started, "every run has its link"
    await analyze_as_autovacuum_would(db)
    return gates


async def csrf_of(http: aiohttp.ClientSession, base: str, token: str) -> str:
    async with http.get(f"{base}/approve/{token}") as response:
        match = CSRF.search(await response.text())
        assert response.status == 200 and match, response.status
        return match["csrf"]


@dataclass
class Decided:
    #: When the first POST was sent: the latency counts the refused tries too.
    sent: datetime
    #: `503` answers (the gateway shedding load, nothing recorded) before the decision went in.
    refused: int = 0


async def decide(http: aiohttp.ClientSession, base: str, token: str, csrf: str) -> Decided:
    """POST the decision, again after the `Retry-After` of each `503`, as an approver would."""
    decided = Decided(datetime.now(UTC))
    while True:
        async with http.post(
            f"{base}/approve/{token}",
            data={"csrf": csrf, "decision": "approve"},
            headers={"Cookie": f"docflow_csrf={csrf}"},
        ) as response:
            await response.read()
            if response.status != 503:
                assert response.status == 200, response.status
                return decided
            decided.refused += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


async def latencies(
    db: asyncpg.Connection, sent: dict[uuid.UUID, datetime], within: float
) -> list[float]:
    async def all_started() -> list[asyncpg.Record]:
        rows = await db.fetch(
            "SELECT execution_id, started_at FROM execution_steps "
            "WHERE node_id = 'next' AND execution_id = ANY($1::uuid[])",
            list(sent),
        )
        return rows if len(rows) == len(sent) else []

    rows = await wait_for(all_started, within=within, what="every next node started")
    return [(row["started_at"] - sent[row["execution_id"]]).total_seconds() * 1000 for row in rows]


async def finished(db: asyncpg.Connection, sent: dict[uuid.UUID, datetime], within: float) -> None:
    """Every run completed, so the CPU measured covers each resume's whole tail."""

    async def done() -> bool:
        count = await db.fetchval(
            "SELECT count(*) FROM executions WHERE status = 'completed' AND id = ANY($1::uuid[])",
            list(sent),
        )
        return bool(count == len(sent))

    await wait_for(done, within=within, what="every resumed run completed")


async def breakdown(
    db: asyncpg.Connection, sent: dict[uuid.UUID, datetime]
) -> dict[str, list[float]]:
    """Where the time goes, from the rows each step wrote: POST sent → decision committed
    (gateway) → execution claimed paused→running (broker hop + executor's deciding
    transaction) → next node started (resume + checkpoint)."""
    rows = await db.fetch(
        "SELECT a.execution_id, a.decided_at, t.at AS claimed_at, s.started_at "
        "FROM approvals a "
        "JOIN execution_transitions t ON t.execution_id = a.execution_id "
        "  AND t.from_status = 'paused' AND t.to_status = 'running' "
        "JOIN execution_steps s ON s.execution_id = a.execution_id AND s.node_id = 'next' "
        "WHERE a.execution_id = ANY($1::uuid[])",
        list(sent),
    )

    def ms(later: datetime, earlier: datetime) -> float:
        return (later - earlier).total_seconds() * 1000

    return {
        "POST → decision recorded": [ms(r["decided_at"], sent[r["execution_id"]]) for r in rows],
        "recorded → claimed": [ms(r["claimed_at"], r["decided_at"]) for r in rows],
        "claimed → next started": [ms(r["started_at"], r["claimed_at"]) for r in rows],
    }


async def phase(
    label: str,
    gates: dict[uuid.UUID, str],
    stack: Stack,
    db: asyncpg.Connection,
    *,
    rate: float | None,
) -> list[float]:
    base = stack.base_url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        csrfs = {e: await csrf_of(http, base, t) for e, t in gates.items()}
        with cpu_measured(stack.services) as cpu:
            if rate is None:
                moments = await asyncio.gather(
                    *(decide(http, base, gates[e], csrfs[e]) for e in gates)
                )
                outcomes = dict(zip(gates, moments, strict=True))
            else:
                start = time.monotonic()
                tasks = []
                for index, execution_id in enumerate(gates):
                    # A steady rate: each POST leaves at its own moment, whatever the others do.
                    await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
                    tasks.append(
                        asyncio.create_task(
                            decide(http, base, gates[execution_id], csrfs[execution_id])
                        )
                    )
                outcomes = dict(zip(gates, await asyncio.gather(*tasks), strict=True))
            sent = {e: decided.sent for e, decided in outcomes.items()}
            measured = await latencies(db, sent, within=120)
            await finished(db, sent, within=120)
    p50, p99 = percentile(measured, 0.50), percentile(measured, 0.99)
    heading(label)
    # CPU is steadier than wall-clock on a shared machine: per decided gate, the gateway's
    # POST handling and the executors' resume, gate checkpoint and next node to completion.
    count = len(sent)
    line("gateway CPU per decision", f"{cpu.seconds('gateway').total / count * 1000:.2f} ms")
    line("executor CPU per resumed run", f"{cpu.seconds('executor').total / count * 1000:.2f} ms")
    if cpu.machine_busy is not None:
        line("machine busy (all processes)", f"{cpu.machine_busy * 100:.0f} %")
    for name, values in (await breakdown(db, sent)).items():
        line(
            name, f"p50 {percentile(values, 0.5):.1f} ms", f"p99 {percentile(values, 0.99):.1f} ms"
        )
    line("gates decided", str(len(measured)))
    line("503 answered, decided again", str(sum(d.refused for d in outcomes.values())))
    line("p50", f"{p50:.1f} ms", f"target < {P50_TARGET_MS:.0f} ms")
    line("p99", f"{p99:.1f} ms", f"target < {P99_TARGET_MS:.0f} ms")
    line("max", f"{max(measured):.1f} ms")
    return measured


async def main(args: argparse.Namespace) -> None:
    target = target_for(args, "approvals")
    with log_folder("approvals", args.keep_logs) as log_dir:
        await measure(args, target, log_dir)


async def measure(args: argparse.Namespace, target: Target, log_dir: Path) -> None:
    async with own_database(target), own_queues(target):
        await upgrade_async(target.database_url)
        async with running_stack(
            target, executors=args.executors, prefetch=None, log_dir=log_dir, cprofile_to=None
        ) as stack:
            notifier = await spawn("notifier", cli("notifier"), service_env(target), log_dir)
            try:
                key = await new_api_key(target.settings())
                db = await asyncpg.connect(target.dsn())
                try:
                    async with aiohttp.ClientSession() as http:
                        api = Api(http, stack.base_url, key)
                        workflow_id = await api.create_workflow(gate_workflow())
                        steady = await open_gates(
                            api, workflow_id, args.gates, notifier.log_path, db
                        )
                        await phase(
                            f"Steady: {args.gates} gates at {args.rate:g}/s",
                            steady, stack, db, rate=args.rate,
                        )  # fmt: skip
                        burst = await open_gates(
                            api, workflow_id, args.gates, notifier.log_path, db
                        )
                        await phase(
                            f"Burst: {args.gates} gates decided at once",
                            burst, stack, db, rate=None,
                        )  # fmt: skip
                finally:
                    await db.close()
            finally:
                await stop(notifier)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--gates", type=int, default=500, help="gates per phase (default 500)")
    add("--rate", type=float, default=20.0, help="decisions per second, steady phase")
    add("--executors", type=int, default=2, help="executor processes (default 2)")
    add("--keep-logs", type=Path, default=None, help="copy the services' logs to this folder")
    add_target_args(add)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

"""Phase 1 of bench/signatures.py: verified, de-duplicated webhooks per second at the gateway."""

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg
from cpu import Seconds, process_seconds
from figures import heading, line, verdict
from gateway_post import print_cprofile
from host_cpu import HostUse, measured
from signature_setup import (
    READY_WITHIN_SECONDS,
    SIGNER,
    FakeClickSign,
    clicksign_event,
    clicksign_headers,
    provider_env,
    ready,
    wait_for,
)
from stack import Service, cli, free_port, service_env, spawn, stop
from target import Target

from shared.broker.topology import SIGNATURES, Names

INGEST_TARGET_PER_SECOND = 1000.0


async def seed_requests(db: asyncpg.Connection, count: int, label: str) -> list[str]:
    """`count` pending ClickSign requests of paused executions, made directly in the database
    (the gateway only looks requests up); their document keys."""
    workspace, workflow = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    await db.execute(
        "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)",
        workspace,
        f"bench-{workspace.hex[:8]}",
        now,
    )
    await db.execute(
        "INSERT INTO workflows (id, workspace_id, name, current_version, created_at, updated_at)"
        " VALUES ($1, $2, 'bench-ingest', 1, $3, $3)",
        workflow,
        workspace,
        now,
    )
    executions = [uuid.uuid4() for _ in range(count)]
    keys = [f"bench-{label}-{i:06d}" for i in range(count)]
    await db.copy_records_to_table(
        "executions",
        columns=["id", "workspace_id", "workflow_id", "workflow_version", "status", "version",
                 "context", "trigger_data", "created_at"],
        records=[(e, workspace, workflow, 1, "paused", 1, "{}", "{}", now) for e in executions],
    )  # fmt: skip
    requests = [uuid.uuid4() for _ in range(count)]
    await db.copy_records_to_table(
        "signature_requests",
        columns=["id", "workspace_id", "execution_id", "node_id", "idempotency_key",
                 "generation", "provider", "wait_id", "status", "rule", "title",
                 "provider_request_id", "provider_document_id", "progress", "provider_done",
                 "created_at", "updated_at", "last_activity_at"],
        records=[
            (r, workspace, e, "sign", f"{e}:sign", 1, "clicksign", uuid.uuid4(), "pending",
             '{"rule": "all", "required": 1}', "bench", k, k, "{}", False, now, now, now)
            for r, e, k in zip(requests, executions, keys, strict=True)
        ],
    )  # fmt: skip
    await db.copy_records_to_table(
        "signers",
        columns=["id", "request_id", "position", "name", "email", "auth", "status",
                 "updated_at"],
        records=[(uuid.uuid4(), r, 0, "Bench", SIGNER, "email", "pending", now) for r in requests],
    )  # fmt: skip
    return keys


def signed_deliveries(keys: list[str]) -> list[tuple[bytes, dict[str, str]]]:
    """Each event twice, the repeat a little later, as a provider's retry would come."""
    events = [
        (body, clicksign_headers(body, "sign"))
        for body in (
            clicksign_event("sign", document_key=k, signer_key=f"s-{k}", signer_email=SIGNER)
            for k in keys
        )
    ]
    deliveries = []
    for index, event in enumerate(events):
        deliveries.append(event)
        if index >= 8:
            deliveries.append(events[index - 8])
    deliveries.extend(events[-8:])
    return deliveries


async def post_all(
    base_urls: list[str], deliveries: list[tuple[bytes, dict[str, str]]], in_flight: int
) -> dict[str, int]:
    """POST every delivery, `in_flight` at once, spread over the gateways in turn."""
    outcomes: dict[str, int] = {}
    queue = iter(deliveries)
    urls = [f"{base}/api/v1/webhooks/signature/clicksign" for base in base_urls]
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker(index: int) -> None:
            url = urls[index % len(urls)]
            for body, headers in queue:
                async with http.post(url, data=body, headers=headers) as response:
                    answer = await response.json()
                    key = answer.get("status") if response.status == 200 else str(response.status)
                    outcomes[key] = outcomes.get(key, 0) + 1

        await asyncio.gather(*(worker(i) for i in range(in_flight)))
    return outcomes


async def ingestion(args: argparse.Namespace, target: Target, log_dir: Path) -> float:
    fake = FakeClickSign()
    await fake.start()
    gateways: list[Service] = []
    # Every gateway listens on the same port (DOCFLOW_HTTP_REUSE_PORT): the kernel spreads
    # the client's connections over them, as it would in a deployment.
    port = free_port()
    env = service_env(
        target,
        DOCFLOW_HTTP_PORT=str(port),
        DOCFLOW_HTTP_REUSE_PORT="true",
        **provider_env(fake),
    )
    for index in range(args.gateways):
        argv = cli("gateway")
        if index == 0 and args.profile is not None:
            profiled = Path(__file__).parent / "cpu_profiled.py"
            argv = [sys.executable, str(profiled), str(args.profile), "gateway"]
        gateways.append(await spawn(f"gateway-ingest-{index}", argv, env, log_dir))

        # One at a time: each must be listening before the next binds beside it.
        async def listening(pid: int = gateways[-1].pid) -> bool:
            return _listening(pid, port)

        await wait_for(listening, within=READY_WITHIN_SECONDS,
                       what=f"gateway {index} listening", services=gateways)  # fmt: skip
    base_urls = [f"http://127.0.0.1:{port}"]
    db = await asyncpg.connect(target.dsn())
    try:

        async def all_ready() -> bool:
            return all([await ready(base) for base in base_urls])

        await wait_for(all_ready, within=READY_WITHIN_SECONDS, what="gateways", services=gateways)
        warm_keys = await seed_requests(db, 200, "warm")
        keys = await seed_requests(db, args.events, "doc")
        await post_all(base_urls, signed_deliveries(warm_keys), args.in_flight)
        deliveries = signed_deliveries(keys)
        cpu_before = [process_seconds(g.pid) for g in gateways]
        with measured(target.database) as host:
            started = time.perf_counter()
            outcomes = await post_all(base_urls, deliveries, args.in_flight)
            seconds = time.perf_counter() - started
        cpu_after = [process_seconds(g.pid) for g in gateways]
        stored = await db.fetchval(
            "SELECT count(*) FROM inbox WHERE event_key LIKE 'sign:bench-doc-%'"
        )

        left = await outbox_after_drain(db, within=30.0)
        await asyncio.gather(*(stop(g) for g in gateways))
        # Phase 1's requests have no runs: nothing of it may reach phase 2's executors (the
        # gateway is stopped first, so none of its publishes can come after the purge).
        await db.execute("DELETE FROM outbox")
        queued = await purge_signature_events(target)
    finally:
        await db.close()
        await asyncio.gather(*(stop(g) for g in gateways))
        await fake.stop()
    rate = len(deliveries) / seconds
    heading(f"Ingestion: {args.events} distinct events, each delivered twice, "
            f"{args.in_flight} in flight, {args.gateways} gateway process(es)")  # fmt: skip
    line("webhooks answered", f"{len(deliveries)}", f"in {seconds:.2f} s")
    line("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    line("inbox rows / events", f"{stored} / {args.events}")
    line("signatures.events published", f"{queued}", f"{left} left to the scheduler's relay")
    met = verdict(rate >= INGEST_TARGET_PER_SECOND)
    line("verified events/s", f"{rate:,.0f}", f"target >= {INGEST_TARGET_PER_SECOND:,.0f}: {met}")
    line("distinct events/s", f"{args.events / seconds:,.0f}")
    before = [c for c in cpu_before if c is not None]
    after = [c for c in cpu_after if c is not None]
    if len(before) == len(after) == len(gateways):
        deltas = [a - b for a, b in zip(after, before, strict=True)]
        used = Seconds(sum(d.user for d in deltas), sum(d.system for d in deltas))
        line("gateway CPU per webhook", f"{1000 * used.total / len(deliveries):.2f} ms",
             f"user {1000 * used.user / len(deliveries):.2f} + system "
             f"{1000 * used.system / len(deliveries):.2f}; one gateway process tops out "
             "near 1 / this")  # fmt: skip
    host_lines(host, len(deliveries))
    if args.profile is not None:
        print_cprofile(args.profile)
    return rate


def host_lines(host: HostUse, webhooks: int) -> None:
    """Where the rest of the machine went: on 2 cores, 1,000 webhooks/s leaves 2 ms of CPU
    per webhook for everything, the load generator included."""

    def per(seconds: Seconds | None) -> str:
        return f"{1000 * seconds.total / webhooks:.2f} ms" if seconds is not None else "n/a"

    line("load generator CPU/webhook", per(host.load_generator), "this process (aiohttp client)")
    line("PostgreSQL CPU/webhook", per(host.database), "backends of the bench database")
    line("RabbitMQ CPU/webhook", per(host.broker), "the whole broker, shared with others")
    if host.machine_busy is not None and host.machine_seconds is not None:
        line("machine busy", f"{100 * host.machine_busy:.0f} %",
             f"{1000 * host.machine_seconds * host.machine_busy / webhooks:.2f} ms of CPU per "
             "webhook, other work on the machine included")  # fmt: skip


def _listening(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on `port` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                fields = row.split()
                if fields[1].rsplit(":", 1)[1] == f"{port:04X}" and fields[3] == "0A":
                    inodes.add(f"socket:[{fields[9]}]")
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    return True
    return False


async def outbox_after_drain(db: asyncpg.Connection, *, within: float) -> int:
    """Rows still in the outbox once the gateway's own publishing is done (at most `within`
    seconds); a publish that was not confirmed in time leaves its row for the relay."""
    deadline = time.monotonic() + within
    while True:
        left = int(await db.fetchval("SELECT count(*) FROM outbox"))
        if left == 0 or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def purge_signature_events(target: Target) -> int:
    """Empty `signatures.events`: phase 1's requests have no runs to resume."""
    connection = await aio_pika.connect(target.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            Names(target.queue_prefix).queue(SIGNATURES), passive=True
        )
        purged = await queue.purge()
        return int(purged.message_count or 0)
    finally:
        await connection.close()

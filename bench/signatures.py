"""E-signature webhooks: `.venv/bin/python bench/signatures.py --help`.

Over real processes (gateway, two executors, scheduler) on PostgreSQL and RabbitMQ, beside a
local server that behaves like ClickSign API v3 (the one the tests use), two figures:

1. Ingestion: verified, de-duplicated webhook events per second at the gateway. `--events`
   distinct ClickSign `sign` events (the documented body, each for its own document), each
   delivered twice, `--in-flight` at once, every one signed with `Content-Hmac`. The gateway
   verifies, records the first delivery in the inbox with its `signatures.events` message and
   answers the second as a duplicate. Only the gateway runs in this phase.
2. Resume latency: from the POST of the last signer's webhook to the `started_at` of the node
   after the `signature` node, p50/p99, at a steady `--rate` completions per second
   (default 20): the executor applies the event, downloads the signed file from the fake
   ClickSign, decides the wait and runs on.

It creates and drops its own database and queues and stops every process it started. It reuses
the engine benchmark's sibling modules (target, stack, api, figures) by plain name.
"""

import argparse
import asyncio
import base64
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import asyncpg
from api import Api, new_api_key
from cpu import Seconds, process_seconds
from cpu import measured as cpu_measured
from figures import heading, line, percentile, verdict
from gateway_post import print_cprofile
from host_cpu import HostUse, measured
from stack import REPO_ROOT, Service, cli, free_port, service_env, spawn, stop
from target import Target, consumer_count, own_database, own_queues

from shared.broker.topology import RUN, SIGNATURES, Names
from shared.db.migrate import upgrade_async

# The fake ClickSign and the documented bodies live with the tests.
sys.path.insert(0, str(REPO_ROOT))
from tests.signatures import fake_clicksign
from tests.signatures.fake_clicksign import FakeClickSign
from tests.signatures.providers import (
    CLICKSIGN_SECRET,
    clicksign_event,
    clicksign_headers,
)

INGEST_TARGET_PER_SECOND = 1000.0
P99_TARGET_MS = 50.0
READY_WITHIN_SECONDS = 90.0
SIGNER = "signer@bench.test"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--phases", default="ingest,latency", help="phases to run (default ingest,latency)")
    add("--events", type=int, default=5000, help="distinct events, each sent twice (5000)")
    add("--in-flight", type=int, default=64, help="concurrent webhook POSTs (default 64)")
    add("--gateways", type=int, default=1, help="gateway processes in phase 1 (default 1)")
    add(
        "--profile",
        type=Path,
        default=None,
        help="phase 1: run the (first) gateway under a CPU-timed cProfile saved here, and print it",
    )
    add("--completions", type=int, default=400, help="runs completed in phase 2 (400)")
    add("--rate", type=float, default=20.0, help="completions per second (default 20)")
    add("--executors", type=int, default=2, help="executor processes (default 2)")
    add("--keep-logs", type=Path, default=None, help="copy the services' logs to this folder")
    add("--pg-host", default="127.0.0.1")
    add("--pg-port", type=int, default=5432)
    add("--pg-user", default="postgres")
    add("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    return parser.parse_args()


def provider_env(fake: FakeClickSign) -> dict[str, str]:
    return {
        "DOCFLOW_CLICKSIGN_BASE_URL": fake.url,
        "DOCFLOW_CLICKSIGN_ACCESS_TOKEN": fake_clicksign.TOKEN,
        "DOCFLOW_CLICKSIGN_WEBHOOK_SECRET": CLICKSIGN_SECRET,
    }


async def wait_for(
    probe: Any, *, within: float, what: str, services: list[Service], interval: float = 0.2
) -> Any:
    deadline = time.monotonic() + within
    while True:
        for service in services:
            if service.process.returncode is not None:
                raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {within:.0f}s")
        await asyncio.sleep(interval)


async def ready(base_url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base_url}/readyz") as response,
        ):
            return response.status == 200
    except aiohttp.ClientError:
        return False


# --- phase 1: ingestion ---


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


# --- phase 2: resume latency ---


def workflow() -> dict[str, Any]:
    contract = base64.b64encode(b"%PDF-1.4\n% bench contract\n%%EOF\n").decode()
    return {
        "name": "bench-signature",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "sign",
                "type": "signature",
                "position": 1,
                "config": {
                    "provider": "clicksign",
                    "title": "Bench contract",
                    "document": {"content_base64": contract, "filename": "contract.pdf"},
                    "signers": [{"name": "Bench Signer", "email": SIGNER}],
                },
            },
            {"id": "next", "type": "set", "position": 2, "config": {"values": {"done": True}}},
        ],
    }


async def latency(args: argparse.Namespace, target: Target, log_dir: Path) -> list[float]:
    fake = FakeClickSign()
    fake.document_keys = []  # fresh keys for every document
    await fake.start()
    port = free_port()
    env = provider_env(fake)
    gateway_env = service_env(target, DOCFLOW_HTTP_PORT=str(port), **env)
    services = [await spawn("gateway", cli("gateway"), gateway_env, log_dir)]
    for i in range(args.executors):
        worker_env = service_env(target, DOCFLOW_WORKER_ID=f"bench-executor-{i}", **env)
        services.append(await spawn(f"executor-{i}", cli("executor"), worker_env, log_dir))
    services.append(await spawn("scheduler", cli("scheduler"), service_env(target, **env), log_dir))
    base_url = f"http://127.0.0.1:{port}"
    db = await asyncpg.connect(target.dsn())
    try:

        async def up() -> bool:
            return await ready(base_url) and await consumer_count(target, RUN) >= args.executors

        await wait_for(up, within=READY_WITHIN_SECONDS, what="services", services=services)
        key = await new_api_key(target.settings())
        async with aiohttp.ClientSession() as http:
            api = Api(http, base_url, key)
            workflow_id = await api.create_workflow(workflow())
            semaphore = asyncio.Semaphore(16)

            async def start() -> uuid.UUID:
                async with semaphore:
                    return await api.start_execution(workflow_id, {})

            runs = await asyncio.gather(*(start() for _ in range(args.completions)))

            async def all_settled() -> list[asyncpg.Record]:
                rows = await db.fetch(
                    "SELECT e.id AS execution_id, e.status, e.error, r.provider_document_id"
                    " FROM executions e LEFT JOIN signature_requests r ON r.execution_id = e.id"
                    " WHERE e.id = ANY($1::uuid[]) AND e.status IN ('paused', 'failed')",
                    list(runs),
                )
                return rows if len(rows) == len(runs) else []

            settled = await wait_for(all_settled, within=600, what="every run paused",
                                     services=services, interval=1.0)  # fmt: skip
            paused = [r for r in settled if r["status"] == "paused"]
            for failed in [r for r in settled if r["status"] != "paused"][:3]:
                print(f"   a run failed before pausing: {failed['error']}", flush=True)
            print(f"   {len(paused)} runs paused; completing them at {args.rate:g}/s", flush=True)
            with cpu_measured(services) as use:
                sent = await complete_steadily(http, base_url, fake, paused, args.rate)
                measured, parts = await resume_times(db, sent, services)
    finally:
        await db.close()
        await asyncio.gather(*(stop(s) for s in services))
        await fake.stop()
    p50, p99 = percentile(measured, 0.5), percentile(measured, 0.99)
    heading(f"Resume latency: {len(measured)} last-signer webhooks at {args.rate:g}/s, "
            f"{args.executors} executors")  # fmt: skip
    for name, values in parts.items():
        line(
            name, f"p50 {percentile(values, 0.5):.1f} ms", f"p99 {percentile(values, 0.99):.1f} ms"
        )
    line("p50", f"{p50:.1f} ms")
    line("p99", f"{p99:.1f} ms", f"target < {P99_TARGET_MS:.0f} ms: {verdict(p99 < P99_TARGET_MS)}")
    line("max", f"{max(measured):.1f} ms")
    # CPU per completion is steadier than the latency on a machine shared with other work.
    for prefix in ("gateway", "executor", "scheduler"):
        used = use.seconds(prefix)
        line(f"{prefix} CPU per completion", f"{1000 * used.total / len(measured):.2f} ms",
             "summed over its processes")  # fmt: skip
    if use.machine_busy is not None:
        line("machine busy", f"{100 * use.machine_busy:.0f} %", "other work included")
    return measured


async def complete_steadily(
    http: aiohttp.ClientSession,
    base_url: str,
    fake: FakeClickSign,
    paused: list[asyncpg.Record],
    rate: float,
) -> dict[uuid.UUID, datetime]:
    url = f"{base_url}/api/v1/webhooks/signature/clicksign"

    async def deliver(execution_id: uuid.UUID, document_key: str) -> tuple[uuid.UUID, datetime]:
        signer_id = fake.sign(document_key, SIGNER)
        body = clicksign_event("sign", document_key=document_key, signer_key=signer_id)
        headers = clicksign_headers(body, "sign")
        moment = datetime.now(UTC)
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            assert response.status == 200, response.status
        return execution_id, moment

    start = time.monotonic()
    tasks = []
    for index, row in enumerate(paused):
        # Open loop: each webhook leaves at its own moment, whatever the others do.
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        tasks.append(asyncio.create_task(deliver(row["execution_id"], row["provider_document_id"])))
    return dict(await asyncio.gather(*tasks))


async def resume_times(
    db: asyncpg.Connection, sent: dict[uuid.UUID, datetime], services: list[Service]
) -> tuple[list[float], dict[str, list[float]]]:
    async def all_started() -> list[asyncpg.Record]:
        rows = await db.fetch(
            "SELECT s.execution_id, s.started_at, t.at AS claimed_at, i.received_at,"
            " i.processed_at, d.created_at AS downloaded_at"
            " FROM execution_steps s"
            " JOIN execution_transitions t ON t.execution_id = s.execution_id"
            "  AND t.from_status = 'paused' AND t.to_status = 'running'"
            " JOIN signature_requests r ON r.execution_id = s.execution_id"
            " JOIN inbox i ON i.event_key LIKE 'sign:' || r.provider_document_id || ':%'"
            " JOIN signed_documents d ON d.request_id = r.id"
            " WHERE s.node_id = 'next' AND s.execution_id = ANY($1::uuid[])",
            list(sent),
        )
        return rows if len(rows) == len(sent) else []

    rows = await wait_for(all_started, within=300, what="every next node started",
                          services=services, interval=1.0)  # fmt: skip

    def ms(later: datetime, earlier: datetime) -> float:
        return (later - earlier).total_seconds() * 1000

    measured = [ms(r["started_at"], sent[r["execution_id"]]) for r in rows]
    parts = {
        "POST → event recorded": [ms(r["received_at"], sent[r["execution_id"]]) for r in rows],
        "recorded → applied": [ms(r["processed_at"], r["received_at"]) for r in rows],
        "applied → file downloaded": [ms(r["downloaded_at"], r["processed_at"]) for r in rows],
        "downloaded → wait decided": [ms(r["claimed_at"], r["downloaded_at"]) for r in rows],
        "decided → next started": [ms(r["started_at"], r["claimed_at"]) for r in rows],
    }
    return measured, parts


async def main(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:8]
    target = Target(
        pg_host=args.pg_host,
        pg_port=args.pg_port,
        pg_user=args.pg_user,
        amqp_url=args.amqp_url,
        database=f"docflow_bench_signatures_{run}",
        queue_prefix=f"bench-signatures-{run}.",
    )
    with tempfile.TemporaryDirectory(prefix="docflow-bench-signatures-") as logs:
        log_dir = Path(logs)
        try:
            async with own_database(target), own_queues(target):
                await upgrade_async(target.database_url)
                phases = set(args.phases.split(","))
                if "ingest" in phases:
                    await ingestion(args, target, log_dir)
                if "latency" in phases:
                    await latency(args, target, log_dir)
        finally:
            if args.keep_logs is not None:
                shutil.copytree(log_dir, args.keep_logs, dirs_exist_ok=True)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

"""Phase 2 of bench/signatures.py: last signer's webhook → the next node's start, p50/p99."""

import argparse
import asyncio
import base64
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from api import Api, new_api_key
from cpu import measured as cpu_measured
from figures import heading, line, percentile, verdict
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
from target import Target, consumer_count

from shared.broker.topology import RUN

P99_TARGET_MS = 50.0


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

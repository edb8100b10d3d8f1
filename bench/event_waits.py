"""Parking runs on `event` waits and delivering their events, for bench/events.py."""

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
from api import Api
from target import Target, queue_depth

from shared.broker.topology import RESUME

EVENT = "bench.done"


def waiting_workflow(before: int, after: int) -> dict[str, Any]:
    """`before` set nodes, an `event` node `wait`, `after` set nodes (`a0` first)."""
    nodes: list[dict[str, Any]] = []
    for k in range(before):
        nodes.append({"id": f"b{k}", "type": "set", "config": {"values": {"i": k}}})
    nodes.append({"id": "wait", "type": "event", "config": {"name": EVENT}})
    for k in range(after):
        nodes.append({"id": f"a{k}", "type": "set", "config": {"values": {"i": k}}})
    for position, node in enumerate(nodes):
        node["position"] = position
    return {"name": f"bench-event-{before}-{after}", "nodes": nodes}


async def wait_for(probe: Any, *, within: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {within:.0f}s")
        await asyncio.sleep(every)


async def park(
    api: Api,
    db: asyncpg.Connection,
    target: Target,
    workflow_id: str,
    count: int,
    *,
    in_flight: int = 50,
) -> list[uuid.UUID]:
    """Start `count` runs and return once each waits on its open `event` wait and the
    resumes that opening a wait asks for (settle on open) are all handled: a measurement
    that starts earlier would queue its events behind them."""
    gate = asyncio.Semaphore(in_flight)

    async def start(n: int) -> uuid.UUID:
        async with gate:
            return await api.start_execution(workflow_id, {"n": n})

    ids = list(await asyncio.gather(*(start(n) for n in range(count))))

    async def all_open() -> bool:
        opened = await db.fetchval(
            "SELECT count(*) FROM waits w JOIN executions e ON e.id = w.execution_id "
            "WHERE w.kind = 'event' AND w.status = 'open' AND e.status = 'paused' "
            "AND w.execution_id = ANY($1::uuid[])",
            ids,
        )
        return bool(opened == count)

    await wait_for(all_open, within=60 + count / 20, what=f"{count} runs waiting", every=0.5)

    async def resumes_handled() -> bool:
        return await queue_depth(target, RESUME) == 0

    await wait_for(resumes_handled, within=60 + count / 20, what="resume queue empty", every=0.5)
    await asyncio.sleep(1.0)  # the last ones delivered but still being handled
    await analyze_as_autovacuum_would(db)
    return ids


async def analyze_as_autovacuum_would(db: asyncpg.Connection) -> bool:
    """VACUUM ANALYZE when the server's autovacuum is off; True when it ran.

    A production server's autovacuum analyzes a table once a tenth of it changed, so after
    parking its plans follow the parked rows. The development machine's PostgreSQL runs
    without it, and plans there followed the statistics of the empty tables: the resume
    statement scanned every open wait of its kind for the one it was asked for (1.4 ms in
    PostgreSQL instead of a tenth of that)."""
    if await db.fetchval("SHOW autovacuum") == "on":
        return False
    await db.execute("VACUUM ANALYZE")
    return True


async def deliver(
    http: aiohttp.ClientSession,
    base: str,
    key: str,
    execution_id: uuid.UUID,
    answered: dict[uuid.UUID, float] | None = None,
) -> datetime:
    """POST the event; returns when the request was sent. `answered` gets how long the answer
    took, in ms."""
    sent = datetime.now(UTC)
    began = time.perf_counter()
    async with http.post(
        f"{base}/api/v1/executions/{execution_id}/events/{EVENT}",
        json={"ok": True},
        headers={"Authorization": f"Bearer {key}"},
    ) as response:
        await response.read()
        assert response.status == 202, response.status
    if answered is not None:
        answered[execution_id] = (time.perf_counter() - began) * 1000
    return sent


async def deliver_all(
    http: aiohttp.ClientSession,
    base: str,
    key: str,
    ids: list[uuid.UUID],
    *,
    rate: float | None,
    in_flight: int = 100,
    answered: dict[uuid.UUID, float] | None = None,
) -> dict[uuid.UUID, datetime]:
    """At a steady `rate` (each POST leaves at its own moment), or all at once (`None`).
    `answered` gets each answer's time in ms."""
    if rate is None:
        gate = asyncio.Semaphore(in_flight)

        async def one(execution_id: uuid.UUID) -> datetime:
            async with gate:
                return await deliver(http, base, key, execution_id, answered)

        return dict(zip(ids, await asyncio.gather(*(one(e) for e in ids)), strict=True))
    start = time.monotonic()
    tasks = []
    for index, execution_id in enumerate(ids):
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        tasks.append(asyncio.create_task(deliver(http, base, key, execution_id, answered)))
    return dict(zip(ids, await asyncio.gather(*tasks), strict=True))


async def started_after(
    db: asyncpg.Connection, node_id: str, sent: dict[uuid.UUID, datetime], within: float
) -> dict[uuid.UUID, datetime]:
    """When `node_id` started in each run (its step row)."""

    async def all_started() -> list[asyncpg.Record]:
        rows = await db.fetch(
            "SELECT execution_id, started_at FROM execution_steps "
            "WHERE node_id = $1 AND execution_id = ANY($2::uuid[])",
            node_id,
            list(sent),
        )
        return rows if len(rows) == len(sent) else []

    rows = await wait_for(all_started, within=within, what=f"every {node_id} started")
    return {row["execution_id"]: row["started_at"] for row in rows}


async def all_completed(db: asyncpg.Connection, ids: list[uuid.UUID], within: float) -> datetime:
    """When the last of the runs finished; every one must complete."""

    async def done() -> datetime | None:
        row = await db.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'completed') AS completed, "
            "count(*) FILTER (WHERE status = 'failed') AS failed, max(finished_at) AS last "
            "FROM executions WHERE id = ANY($1::uuid[])",
            ids,
        )
        if row["failed"]:
            raise RuntimeError(f"{row['failed']} runs failed")
        return row["last"] if row["completed"] == len(ids) else None

    last: datetime = await wait_for(done, within=within, what="every run completed")
    return last


async def breakdown(
    db: asyncpg.Connection, sent: dict[uuid.UUID, datetime], next_node: str
) -> dict[str, list[float]]:
    """POST sent → event recorded (its received_at, taken as the request is handled) →
    claimed paused→running (broker hop, the executor's deciding transaction) → next node
    started (the event node's checkpoint)."""
    rows = await db.fetch(
        "SELECT v.execution_id, v.received_at, t.at AS claimed_at, s.started_at "
        "FROM wait_events v "
        "JOIN execution_transitions t ON t.execution_id = v.execution_id "
        "  AND t.from_status = 'paused' AND t.to_status = 'running' "
        "JOIN execution_steps s ON s.execution_id = v.execution_id AND s.node_id = $2 "
        "WHERE v.execution_id = ANY($1::uuid[]) AND v.status = 'accepted'",
        list(sent),
        next_node,
    )

    def ms(later: datetime, earlier: datetime) -> float:
        return (later - earlier).total_seconds() * 1000

    return {
        "POST → event taken": [ms(r["received_at"], sent[r["execution_id"]]) for r in rows],
        "taken → claimed": [ms(r["claimed_at"], r["received_at"]) for r in rows],
        "claimed → next started": [ms(r["started_at"], r["claimed_at"]) for r in rows],
    }

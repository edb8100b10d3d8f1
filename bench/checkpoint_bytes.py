"""Bytes a checkpoint stores as a run's context grows: `.venv/bin/python bench/checkpoint_bytes.py`.

Runs chains of `set` nodes that each copy `--blob-kib` of trigger data into their output (so
the context grows by that much per node), for chains of 10, 25 and 50 nodes, one executor
inside this process, and measures what the context's tables grew by: `executions` (with its
TOAST table) and, where it exists, `execution_outputs`. Autovacuum is off for them during the
run, so every row version written stays and is counted; the bench database is its own, so
nothing else on the machine is measured. A checkpoint that rewrites the whole context stores
more per node the longer the chain; one that writes what the node added stores the same.

It also prints the CPU this process (the executor, and a poll of the runs' statuses) spent per
checkpoint, and of that the time in the executor's output checks (`checked_output`: encoding the
output, its limits): a check that encodes the whole context costs more per node the longer the
chain; one that keeps a running size costs the same.

It creates and drops its own database and deletes its own queues.
"""

import argparse
import asyncio
import base64
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
from executor_cpu import _all_completed
from figures import heading, line
from target import Target, add_target_args, own_database, own_queues, target_for

from services.executor import runner
from services.executor.node_outputs import checked_output
from services.executor.worker import ExecutorWorker
from services.gateway.executions.run_request_sql import RunInserts
from services.gateway.executions.run_requests import queue_execution
from services.gateway.workflows.store import create_workflow
from shared.api_keys import create_api_key
from shared.db.migrate import upgrade_async
from shared.logging import configure_logging
from shared.outbox import publish_staged
from shared.runtime import Resources, open_resources
from shared.workflows import WorkflowDefinition

CONTEXT_TABLES = ("executions", "execution_outputs")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--executions", type=int, default=20, help="runs per chain length (default 20)")
    add("--blob-kib", type=int, default=10, help="KiB each node copies (default 10)")
    add("--lengths", default="10,25,50", help="chain lengths (default 10,25,50)")
    add_target_args(add)
    return parser.parse_args()


def copying_chain(count: int) -> dict[str, Any]:
    """A trigger (the trigger data becomes `source`), then `count` nodes copying the blob."""
    copy = {"values": {"copy": "{{ source.blob }}"}}
    nodes = [{"id": "start", "type": "trigger", "position": 0}] + [
        {"id": f"n{k}", "type": "set", "position": k + 1, "config": copy} for k in range(count)
    ]
    return {"name": f"bench-copies-{count}", "nodes": nodes}


async def bench(args: argparse.Namespace) -> None:
    target = target_for(args, "checkpoint-bytes")
    lengths = [int(n) for n in args.lengths.split(",")]
    # Random, so that TOAST compression cannot hide what is written.
    blob = base64.b64encode(os.urandom(args.blob_kib * 768)).decode()
    heading(
        f"bytes stored per checkpoint: {args.executions} runs per chain, "
        f"each node copying {args.blob_kib} KiB"
    )
    for length in lengths:
        async with own_database(target), own_queues(target):
            await upgrade_async(target.database_url)
            await _autovacuum(target, enabled=False)
            async with open_resources(target.settings()) as resources:
                await _queue_runs(resources, length, args.executions, blob)
                before = await _stored_bytes(target)
                worker = ExecutorWorker(resources)
                with _timed_checks() as checks:
                    cpu = time.process_time()
                    await worker.start()
                    try:
                        await _all_completed(target, args.executions, within=300)
                    finally:
                        await worker.stop()
                    cpu = time.process_time() - cpu
                grown = await _stored_bytes(target) - before
        checkpoints = args.executions * length
        line(f"chain of {length} nodes", f"{grown / checkpoints / 1024:,.1f} KiB per checkpoint")
        line("   executor CPU", f"{cpu / checkpoints * 1000:.3f} ms per checkpoint")
        line("   output checks", f"{checks[0] / checkpoints * 1e6:.1f} µs per checkpoint")


@contextmanager
def _timed_checks() -> Iterator[list[float]]:
    """Seconds spent in the runner's output checks while inside, in a one-item list."""
    spent = [0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return checked_output(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    # The runner's own name for it (imported, not exported): a bench's measuring tap.
    setattr(runner, "checked_output", timed)  # noqa: B010
    try:
        yield spent
    finally:
        setattr(runner, "checked_output", checked_output)  # noqa: B010


async def _queue_runs(resources: Resources, length: int, count: int, blob: str) -> None:
    workspace_id, _ = await create_api_key(resources.sessions, "bench")
    definition = WorkflowDefinition.model_validate(copying_chain(length))
    workflow = await create_workflow(resources.sessions, workspace_id, definition)
    runs = RunInserts(resources.engine)
    staged = []
    for _ in range(count):
        queued = await queue_execution(runs, workspace_id, workflow.id, {"blob": blob}, None)
        assert queued.staged is not None
        staged.append(queued.staged)
    await publish_staged(resources.sessions, resources.broker, staged)


async def _autovacuum(target: Target, *, enabled: bool) -> None:
    connection = await asyncpg.connect(target.dsn())
    try:
        for table in await _existing(connection):
            await connection.execute(
                f"ALTER TABLE {table} SET (autovacuum_enabled = {enabled}, "
                f"toast.autovacuum_enabled = {enabled})"
            )
    finally:
        await connection.close()


async def _stored_bytes(target: Target) -> int:
    """Heap, TOAST and free space of the context's tables (indexes left out)."""
    connection = await asyncpg.connect(target.dsn())
    try:
        tables = await _existing(connection)
        sizes = [
            await connection.fetchval("SELECT pg_table_size($1::regclass)", table)
            for table in tables
        ]
    finally:
        await connection.close()
    return int(sum(sizes))


async def _existing(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1)",
        list(CONTEXT_TABLES),
    )
    return [row["tablename"] for row in rows]


if __name__ == "__main__":
    configure_logging("WARNING")
    asyncio.run(bench(parse_args()))

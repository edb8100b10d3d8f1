"""The executor alone: CPU per node transition, `.venv/bin/python bench/executor_cpu.py --help`.

Queues `--executions` runs of a chain of `set` nodes straight into PostgreSQL and RabbitMQ (no
gateway), then starts ONE executor worker inside this process and times how long it takes, in
wall clock and in this process's CPU, to run them all. CPU per transition does not depend on
what else the machine runs, so it is the figure to watch while changing the hot path;
`--profile` adds a cProfile (timed by CPU) of the worker.

It creates and drops its own database and deletes its own queues.
"""

import argparse
import asyncio
import cProfile
import io
import pstats
import time

import asyncpg
from api import chain_of_set_nodes
from figures import heading, line
from host_cpu import measured
from target import Target, add_target_args, own_database, own_queues, target_for

from services.executor.worker import ExecutorWorker
from services.gateway.executions.run_request_sql import RunInserts
from services.gateway.executions.run_requests import queue_execution
from services.gateway.workflows.store import create_workflow
from shared.api_keys import create_api_key
from shared.broker.topology import RUN
from shared.db.migrate import upgrade_async
from shared.logging import configure_logging
from shared.outbox import publish_staged
from shared.runtime import Resources, open_resources
from shared.workflows import WorkflowDefinition


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--executions", type=int, default=500)
    add("--nodes", type=int, default=10)
    add("--prefetch", type=int, default=None, help="DOCFLOW_PREFETCH (default: the setting's)")
    add("--profile", action="store_true", help="print a cProfile of the worker, timed by CPU")
    add("--profile-to", default=None, help="also save the cProfile stats to this file")
    add_target_args(add)
    add("--within", type=float, default=300.0, help="seconds the runs may take")
    return parser.parse_args()


async def bench(args: argparse.Namespace) -> None:
    target = target_for(args, "executor")
    overrides = {} if args.prefetch is None else {"prefetch": args.prefetch}
    settings = target.settings().model_copy(update=overrides)
    async with own_database(target), own_queues(target):
        await upgrade_async(target.database_url)
        async with open_resources(settings) as resources:
            await _queue_runs(resources, args)
            worker = ExecutorWorker(resources)
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            cpu, wall = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            with measured(target.database) as host:
                await worker.start()
                try:
                    await _all_completed(target, args.executions, within=args.within)
                finally:
                    if profiler is not None:
                        profiler.disable()
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            await worker.stop()
            hot = await _hot_update_share(target)
    transitions = args.executions * args.nodes
    heading(f"executor alone: {args.executions} runs of {args.nodes} set nodes, one worker")
    line("node transitions/s", f"{transitions / wall:,.0f}")
    line("executor CPU per transition", f"{cpu / transitions * 1000:.3f} ms")
    line("executor CPU busy", f"{cpu / wall:.0%} of one core")
    for name, used in (("PostgreSQL", host.database), ("RabbitMQ", host.broker)):
        if used is not None:
            line(f"{name} CPU per transition", f"{used.total / transitions * 1000:.3f} ms")
    line("executions updates that were HOT", f"{hot:.0%}", "(no index entries written)")
    if profiler is not None and args.profile_to:
        profiler.dump_stats(args.profile_to)
    if profiler is not None:
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(35)
            print(out.getvalue())


async def _queue_runs(resources: Resources, args: argparse.Namespace) -> None:
    workspace_id, _ = await create_api_key(resources.sessions, "bench")
    definition = WorkflowDefinition.model_validate(chain_of_set_nodes(args.nodes))
    workflow = await create_workflow(resources.sessions, workspace_id, definition)
    staged = []
    runs = RunInserts(resources.engine)
    for _ in range(args.executions):
        queued = await queue_execution(runs, workspace_id, workflow.id, {}, None)
        assert queued.staged is not None and queued.staged.queue == RUN
        staged.append(queued.staged)
    await publish_staged(resources.sessions, resources.broker, staged)


async def _all_completed(target: Target, count: int, *, within: float) -> None:
    deadline = time.monotonic() + within
    connection = await asyncpg.connect(target.dsn())
    try:
        while True:
            done = await connection.fetchval(
                "SELECT count(*) FROM executions WHERE status IN ('completed', 'failed')"
            )
            if done >= count:
                failed = await connection.fetchval(
                    "SELECT count(*) FROM executions WHERE status = 'failed'"
                )
                if failed:
                    raise RuntimeError(f"{failed} executions failed")
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{done} of {count} finished within {within}s")
            await asyncio.sleep(0.05)
    finally:
        await connection.close()


async def _hot_update_share(target: Target) -> float:
    connection = await asyncpg.connect(target.dsn())
    try:
        # Statistics reach the shared counters within a second of each transaction.
        await asyncio.sleep(1.5)
        updated, hot = await connection.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'executions'"
        )
    finally:
        await connection.close()
    return float(hot / updated) if updated else 0.0


if __name__ == "__main__":
    configure_logging("WARNING")
    asyncio.run(bench(parse_args()))

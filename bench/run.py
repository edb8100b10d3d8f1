"""The engine benchmark: `make bench` (or `.venv/bin/python bench/run.py --help`).

One run measures, in order:
1. the floor: raw single-row versioned UPDATE commits/s that PostgreSQL does here;
2. throughput: a burst of executions of a chain of `set` nodes through real processes
   (gateway, executors, scheduler) on PostgreSQL and RabbitMQ;
3. low-load latency: executions one at a time, POST to final.

It creates and drops its own database and deletes its own queues, and stops every process it
started, also on Ctrl-C or an error. The sibling modules are imported by plain name because
Python puts this script's folder first on the import path; none is named like a package.
"""

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import report
from api import Api, chain_of_set_nodes, new_api_key
from cpu import measured
from figures import heading
from floor import Floor, measure_floor
from host_cpu import measured as host_measured
from phases import Burst, burst, one_at_a_time
from profiling import print_cprofile, print_py_spy, py_spy_output, sampled
from readings import database_counters
from stack import Stack, running_stack
from target import Target, add_target_args, connected, own_database, own_queues, target_for

from shared.db.migrate import upgrade_async


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--executions", type=int, default=1000, help="executions in the burst (default 1000)")
    add("--in-flight", type=int, default=50, help="concurrent POSTs in the burst (default 50)")
    add("--nodes", type=int, default=10, help="set nodes per workflow (default 10)")
    add("--executors", type=int, default=2, help="executor processes (default 2)")
    add("--prefetch", type=int, default=None, help="DOCFLOW_PREFETCH per executor")
    add("--sequential", type=int, default=100, help="one-at-a-time executions (default 100)")
    add("--warm-up", type=int, default=200, help="executions run before the burst (default 200)")
    add("--floor-seconds", type=float, default=5.0, help="length of the floor phase")
    add("--floor-connections", type=int, default=8, help="connections in the floor phase")
    add("--burst-within", type=float, default=180.0, help="seconds the burst may take")
    add_target_args(add)
    add("--profile", action="store_true", help="run executor-0 under cProfile (slows it)")
    add("--py-spy", action="store_true", help="sample executor-0 and the gateway during the burst")
    add("--keep-logs", action="store_true", help="keep the services' log files")
    return parser.parse_args(argv)


async def bench(args: argparse.Namespace, log_dir: Path) -> bool:
    """Every phase, in order; True when every execution completed."""
    target = target_for(args, "engine")
    report.header(target)
    async with own_database(target), own_queues(target):
        floor = await measure_floor(
            target.dsn(), connections=args.floor_connections, seconds=args.floor_seconds
        )
        report.floor(floor)
        await upgrade_async(target.database_url)
        return await _engine_phases(args, target, floor, log_dir)


async def _engine_phases(
    args: argparse.Namespace, target: Target, floor: Floor, log_dir: Path
) -> bool:
    cprofile_to = log_dir / "executor-0.pstats" if args.profile else None
    async with (
        running_stack(
            target,
            executors=args.executors,
            prefetch=args.prefetch,
            log_dir=log_dir,
            cprofile_to=cprofile_to,
        ) as stack,
        connected(target) as db,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.in_flight)) as http,
    ):
        api = Api(http, stack.base_url, await new_api_key(target.settings()))
        workflow_id = await api.create_workflow(chain_of_set_nodes(args.nodes))
        bursted = await _throughput(args, api, db, stack, workflow_id, floor, log_dir, target)
        heading(f"3. Low-load latency: {args.sequential} executions, one at a time")
        sequential = await one_at_a_time(
            api, db, workflow_id, count=args.sequential, each_within=30.0, check=stack.check
        )
        report.one_at_a_time(sequential)
    # The services have stopped here, so cProfile has written its file.
    if cprofile_to is not None:
        print_cprofile(cprofile_to)
    if args.py_spy:
        for service in stack.sampled_services:
            print_py_spy(py_spy_output(log_dir, service), service.name)
    return not bursted.failures and not sequential.not_completed


async def _burst(
    args: argparse.Namespace,
    api: Api,
    db: asyncpg.Connection,
    stack: Stack,
    workflow_id: str,
    *,
    count: int,
) -> Burst:
    return await burst(
        api,
        db,
        workflow_id,
        count=count,
        in_flight=args.in_flight,
        within=args.burst_within,
        check=stack.check,
    )


async def _warm_up(
    args: argparse.Namespace, api: Api, db: asyncpg.Connection, stack: Stack, workflow_id: str
) -> None:
    """Runs before the burst, not counted: the burst measures services that run, while a
    process that has just started still opens its pools, prepares its statements, reads the
    workflow and compiles its templates (the first runs took 300 ms longer)."""
    if args.warm_up <= 0:
        return
    result = await _burst(args, api, db, stack, workflow_id, count=args.warm_up)
    if result.failures:
        raise RuntimeError(f"warm-up: {result.failures[0]}")
    print(f"   warm-up: {args.warm_up} executions first, not counted")


async def _throughput(
    args: argparse.Namespace,
    api: Api,
    db: asyncpg.Connection,
    stack: Stack,
    workflow_id: str,
    floor: Floor,
    log_dir: Path,
    target: Target,
) -> Burst:
    heading(
        f"2. Throughput: {args.executions} executions of {args.nodes} set nodes, "
        f"{args.in_flight} POSTs in flight, {args.executors} executors"
    )
    await _warm_up(args, api, db, stack, workflow_id)
    counters_before = await database_counters(db)
    with measured(stack.services) as cpu, host_measured(target.database) as host:
        async with _maybe_sampled(args.py_spy, stack, log_dir):
            result = await _burst(args, api, db, stack, workflow_id, count=args.executions)
    report.burst(result, floor)
    report.cpu(cpu, result.requested, result.batch.steps)
    report.host(host, result.batch.steps)
    report.database(await database_counters(db) - counters_before, result.batch.steps)
    return result


@contextlib.asynccontextmanager
async def _maybe_sampled(enabled: bool, stack: Stack, log_dir: Path) -> AsyncIterator[None]:
    if not enabled:
        yield
        return
    async with sampled(stack.sampled_services, log_dir):
        yield


async def _main(args: argparse.Namespace, log_dir: Path) -> bool:
    # SIGTERM ends the run like Ctrl-C does: cancelled, so every `finally` cleans up.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await bench(args, log_dir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="docflow-bench-"))
    ok = False
    try:
        ok = asyncio.run(_main(args, log_dir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted; services stopped, database and queues removed", file=sys.stderr)
        return 130
    except Exception as e:
        print(f"\nbenchmark failed: {e}\nservice logs: {log_dir}", file=sys.stderr)
        return 1
    finally:
        if ok and not (args.keep_logs or args.profile or args.py_spy):
            shutil.rmtree(log_dir, ignore_errors=True)
    if not ok or args.keep_logs or args.profile or args.py_spy:
        print(f"\nservice logs and profiles: {log_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

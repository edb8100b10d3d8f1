"""The gateway's cost per run request: `.venv/bin/python bench/gateway_post.py --help`.

Starts one gateway process (no executors, no scheduler: only the accept path is measured) on
its own PostgreSQL database and queue prefix, then
1. a burst: `--posts` POSTs of /workflows/{id}/executions, `--in-flight` at once;
2. paced: `--paced` POSTs at `--rate` per second, open loop, as the target workload sends them.
For each it prints the gateway's CPU ms per POST (from /proc, user + system), the 202 latency
seen by the client, database commits per POST and how long the outbox took to drain.
`--py-spy` samples each phase with py-spy. `--profile` runs the gateway under cProfile timed by
CPU (its CPU figures are then inflated, not comparable) and prints the top functions by
cumulative and own time.
"""

import argparse
import asyncio
import contextlib
import io
import math
import os
import pstats
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from api import Api, ApiError, chain_of_set_nodes, new_api_key
from cpu import Seconds, process_seconds
from figures import heading, line, spread_ms
from profiling import print_py_spy, py_spy_output, sampled
from readings import database_counters
from stack import Service, cli, free_port, service_env, spawn, stop
from target import Target, add_target_args, connected, own_database, own_queues, target_for

from shared.db.migrate import upgrade_async

READY_WITHIN_SECONDS = 60.0
DRAIN_WITHIN_SECONDS = 30.0
TOP = 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--posts", type=int, default=2000, help="POSTs in the burst (default 2000)")
    add("--in-flight", type=int, default=50, help="concurrent POSTs in the burst (default 50)")
    add("--paced", type=int, default=1500, help="POSTs in the paced phase (default 1500; 0 = off)")
    add("--rate", type=float, default=150.0, help="POSTs per second when paced (default 150)")
    add("--warm-up", type=int, default=200, help="POSTs before measuring (default 200)")
    add_target_args(add)
    add("--profile", action="store_true", help="run the gateway under cProfile")
    add("--py-spy", action="store_true", help="sample the gateway with py-spy during the burst")
    add("--keep-logs", action="store_true", help="keep the gateway's log")
    return parser.parse_args(argv)


@dataclass(frozen=True)
class Phase:
    posts: int
    seconds: float
    cpu: Seconds
    latencies_ms: list[float]
    commits: int
    drained_seconds: float | None
    #: Rows still in the outbox when it did not drain (a publish gave up: the relay's work).
    left_in_outbox: int


def report(title: str, phase: Phase) -> None:
    heading(title)
    line("POSTs/s", f"{phase.posts / phase.seconds:,.0f}")
    line("gateway CPU per POST", f"{1000 * phase.cpu.total / phase.posts:.2f} ms")
    line("… user / system", f"{phase.cpu.user:.2f} / {phase.cpu.system:.2f} s")
    accepted = [ms for ms in phase.latencies_ms if not math.isnan(ms)]
    line("202 latency", "", spread_ms(accepted))
    if len(accepted) < phase.posts:
        line("not accepted", f"{phase.posts - len(accepted)}")
    line("database commits per POST", f"{phase.commits / phase.posts:.2f}", "(±polling)")
    drained = (
        f"{phase.left_in_outbox} rows left"
        if phase.drained_seconds is None
        else f"{phase.drained_seconds:.2f} s"
    )
    line("outbox empty after", drained)


async def measure(
    gateway: Service, db: asyncpg.Connection, posts: int, send: Callable[[], Awaitable[list[float]]]
) -> Phase:
    counters = await database_counters(db)
    cpu_before = process_seconds(gateway.pid)
    started = time.perf_counter()
    latencies = await send()
    seconds = time.perf_counter() - started
    cpu_after = process_seconds(gateway.pid)
    commits = (await database_counters(db) - counters).commits
    drain_started = time.perf_counter()
    drained = await _outbox_drained(db)
    assert cpu_before is not None and cpu_after is not None, "no /proc: Linux only"
    return Phase(
        posts=posts,
        seconds=seconds,
        cpu=cpu_after - cpu_before,
        latencies_ms=latencies,
        commits=commits,
        drained_seconds=time.perf_counter() - drain_started if drained else None,
        left_in_outbox=await db.fetchval("SELECT count(*) FROM outbox"),
    )


async def _outbox_drained(db: asyncpg.Connection) -> bool:
    deadline = time.monotonic() + DRAIN_WITHIN_SECONDS
    while await db.fetchval("SELECT count(*) FROM outbox"):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def timed_post(api: Api, workflow_id: str, n: int) -> float:
    """Milliseconds to the 202; NaN for any other answer (an overloaded gateway's 500)."""
    started = time.perf_counter()
    try:
        await api.start_execution(workflow_id, {"n": n})
    except ApiError:
        return math.nan
    return (time.perf_counter() - started) * 1000


async def burst(api: Api, workflow_id: str, count: int, in_flight: int) -> list[float]:
    gate = asyncio.Semaphore(in_flight)

    async def one(n: int) -> float:
        async with gate:
            return await timed_post(api, workflow_id, n)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def paced(api: Api, workflow_id: str, count: int, rate: float) -> list[float]:
    """Open loop: request n leaves at start + n / rate however slow the earlier ones are."""
    start = time.perf_counter()
    tasks = []
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed_post(api, workflow_id, n)))
    return list(await asyncio.gather(*tasks))


@contextlib.asynccontextmanager
async def running_gateway(
    target: Target, log_dir: Path, cprofile_to: Path | None
) -> AsyncIterator[tuple[Service, str]]:
    port = free_port()
    env = service_env(target, DOCFLOW_HTTP_PORT=str(port))
    argv = cli("gateway")
    if cprofile_to is not None:
        argv = [sys.executable, str(Path(__file__).parent / "cpu_profiled.py"), str(cprofile_to)]
        argv.append("gateway")
    gateway = await spawn("gateway", argv, env, log_dir)
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_ready(gateway, base_url)
        yield gateway, base_url
    finally:
        await stop(gateway)


async def _wait_until_ready(gateway: Service, base_url: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    async with aiohttp.ClientSession() as http:
        while True:
            if gateway.process.returncode is not None:
                raise RuntimeError(f"gateway exited:\n{gateway.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{base_url}/readyz") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise TimeoutError("gateway not ready")
            await asyncio.sleep(0.1)


def print_cprofile(path: Path) -> None:
    for order in ("cumulative", "tottime"):
        heading(f"cProfile of the gateway, top {TOP} by {order}")
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).strip_dirs().sort_stats(order).print_stats(TOP)
        print(out.getvalue())
    # Cumulative times are unreliable under asyncio and greenlets (a coroutine's resumptions
    # and SQLAlchemy's greenlet switches nest oddly); own time summed by package is not.
    heading("cProfile of the gateway: own time by package")
    by_package = own_time_by_package(pstats.Stats(str(path)))
    total = sum(by_package.values()) or 1.0
    for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:15]:
        print(f"   {100 * seconds / total:5.1f}%  {seconds:7.2f} s  {package}")


def own_time_by_package(stats: pstats.Stats) -> dict[str, float]:
    totals: dict[str, float] = {}
    # pstats keeps its table in a documented-by-example but unannotated attribute.
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, *_rest) in table.items():
        package = _package_of(filename, function)
        totals[package] = totals.get(package, 0.0) + own
    return totals


def _package_of(filename: str, function: str) -> str:
    """`aiohttp`, `services/gateway`, `stdlib asyncio`, `builtin send`…"""
    if filename == "~":
        # "<method 'send' of '_socket.socket' objects>", "<built-in method time.monotonic>"
        owner = re.search(r"of '([\w.]+)' objects|built-in method ([\w.]+)", function)
        name = next((g for g in owner.groups() if g), "") if owner else function
        return "builtin " + name.split(".")[0]
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for ours in ("services", "shared"):
        if ours in parts:
            return "/".join(parts[parts.index(ours) :][:2]).removesuffix(".py")
    parent = parts[-2] if len(parts) > 1 else ""
    return "stdlib " + (Path(filename).stem if parent.startswith("python") else parent)


async def run(args: argparse.Namespace, log_dir: Path) -> None:
    target = target_for(args, "gateway")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"gateway accept path: {os.cpu_count()} CPUs, load average {load}", flush=True)
    cprofile_to = log_dir / "gateway.pstats" if args.profile else None
    async with own_database(target), own_queues(target):
        await upgrade_async(target.database_url)
        key = await new_api_key(target.settings())
        connector = aiohttp.TCPConnector(limit=max(args.in_flight, 200))
        async with (
            running_gateway(target, log_dir, cprofile_to) as (gateway, base_url),
            connected(target) as db,
            aiohttp.ClientSession(connector=connector) as http,
        ):
            api = Api(http, base_url, key)
            workflow_id = await api.create_workflow(chain_of_set_nodes(3))
            await burst(api, workflow_id, args.warm_up, args.in_flight)
            await _outbox_drained(db)
            # Anything a warm-up publish gave up on would count against the phases.
            await db.execute("DELETE FROM outbox")

            sampled_as: list[Service] = []
            burst_view = _as(gateway, "gateway-burst")
            async with _maybe_sampled(args.py_spy, burst_view, log_dir, sampled_as):
                phase = await measure(
                    gateway,
                    db,
                    args.posts,
                    lambda: burst(api, workflow_id, args.posts, args.in_flight),
                )
            report(f"1. Burst: {args.posts} POSTs, {args.in_flight} in flight", phase)
            if args.paced:
                paced_view = _as(gateway, "gateway-paced")
                async with _maybe_sampled(args.py_spy, paced_view, log_dir, sampled_as):
                    phase = await measure(
                        gateway,
                        db,
                        args.paced,
                        lambda: paced(api, workflow_id, args.paced, args.rate),
                    )
                report(f"2. Paced: {args.paced} POSTs at {args.rate:.0f}/s", phase)
    if cprofile_to is not None:
        print_cprofile(cprofile_to)
    for view in sampled_as:
        print_py_spy(py_spy_output(log_dir, view), view.name)


def _as(gateway: Service, name: str) -> Service:
    """The gateway under another name, so each phase's samples go to a file of their own."""
    return Service(name=name, process=gateway.process, log_path=gateway.log_path)


@contextlib.asynccontextmanager
async def _maybe_sampled(
    enabled: bool, gateway: Service, log_dir: Path, sampled_as: list[Service]
) -> AsyncIterator[None]:
    if not enabled:
        yield
        return
    sampled_as.append(gateway)
    async with sampled([gateway], log_dir):
        yield


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="docflow-gwbench-"))
    try:
        asyncio.run(_main(args, log_dir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(f"\ninterrupted; gateway stopped, database and queues removed; logs: {log_dir}")
        return 130
    except Exception as e:
        print(f"\nbenchmark failed: {e!r}\ngateway log: {log_dir}")
        return 1
    if args.keep_logs:
        print(f"\ngateway log: {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 0


async def _main(args: argparse.Namespace, log_dir: Path) -> None:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await run(args, log_dir)


if __name__ == "__main__":
    raise SystemExit(main())

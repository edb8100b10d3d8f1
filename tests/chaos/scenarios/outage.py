"""The shape most scenarios share: runs POSTed at a steady rate through a gateway, two executors
and a scheduler as real processes; one fault switched on part-way and off again; then the
checker's verdict once the work settled."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from shared.broker.topology import EMAIL, RUN
from shared.runtime import open_resources
from shared.settings import Settings
from tests.chaos.checker import check, settle
from tests.chaos.history import History
from tests.chaos.load import Client, new_api_key, post_runs
from tests.chaos.report import Report
from tests.chaos.stack import Stack, proxied_stack

Switch = Callable[[Stack], Awaitable[None]]
#: The gateway promises a 503 within 2 s while the database is silent; only these bounds
#: notice silence, and their defaults (2 s to connect, 5 s a statement) answer within 5 s.
GATEWAY_BOUNDS = {
    "DOCFLOW_DB_CONNECT_TIMEOUT_SECONDS": "1.5",
    "DOCFLOW_DB_STATEMENT_TIMEOUT_SECONDS": "1.5",
}


@dataclass(frozen=True)
class Load:
    runs: int
    per_second: float
    #: The fault starts this long after the first POST and lasts `fault_seconds`.
    fault_after_seconds: float
    fault_seconds: float
    #: How long the work may take to settle after the last POST before it counts as stalled.
    settle_within: float = 60.0


def chain_of_set_nodes(count: int = 3) -> dict[str, Any]:
    nodes = [{"id": "start", "type": "trigger", "position": 0, "config": {}}] + [
        {
            "id": f"n{k}",
            "type": "set",
            "position": k + 1,
            "config": {
                "values": {"i": "{{ source.n }}" if k == 0 else f"{{{{ nodes.n{k - 1}.i }}}}"}
            },
        }
        for k in range(count)
    ]
    return {"name": f"chaos-chain-{count}", "nodes": nodes}


@contextlib.asynccontextmanager
async def running_services(
    settings: Settings,
    log_dir: Path,
    *,
    executors: int = 2,
    schedulers: int = 1,
    notifiers: int = 0,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """Gateway, executors, schedulers and notifiers behind the proxies, each serving or
    consuming; process `executor-0`, `scheduler-1` and so on."""
    async with proxied_stack(settings, log_dir) as stack:
        await stack.start("gateway", "gateway", **{**GATEWAY_BOUNDS, **(env or {})})
        for service, count in (("executor", executors), ("scheduler", schedulers)):
            for i in range(count):
                await stack.start(f"{service}-{i}", service, **(env or {}))
        for i in range(notifiers):
            await stack.start(f"notifier-{i}", "notifier", **(env or {}))
        await stack.wait_for_gateway()
        await stack.wait_for_consumers(RUN, executors)
        if notifiers:
            await stack.wait_for_consumers(EMAIL, notifiers)
        yield stack


async def outage_under_load(
    scenario: str,
    settings: Settings,
    log_dir: Path,
    load: Load,
    *,
    fault: Switch,
    repair: Switch,
) -> tuple[Report, History]:
    history = History()
    async with running_services(settings, log_dir) as stack, aiohttp.ClientSession() as http:
        _, key = await new_api_key(settings)
        client = Client(http, stack.base_url, key)
        workflow_id = await client.create_workflow(chain_of_set_nodes())
        posting = asyncio.create_task(
            post_runs(client, history, workflow_id, count=load.runs, per_second=load.per_second)
        )
        try:
            # The fault's timing is the scenario's script, not a condition to wait for.
            await asyncio.sleep(load.fault_after_seconds)
            window = history.fault_started()
            await fault(stack)
            await asyncio.sleep(load.fault_seconds)
            await repair(stack)
            history.fault_ended(window)
            await posting
        finally:
            posting.cancel()
        report = await judge(scenario, stack, history, settle_within=load.settle_within)
    return report, history


async def judge(scenario: str, stack: Stack, history: History, *, settle_within: float) -> Report:
    """The checker's verdict once the work settled, with any service that died on its own."""
    async with open_resources(stack.settings, pool_size=2) as resources:
        await settle(resources, history, within=settle_within)
        verdict = await check(resources, history)
    report = Report(scenario, verdict)
    report.problems.extend(f"{name} exited on its own" for name in stack.died())
    if not report.holds:
        report.logs = stack.log_tails()
    return report

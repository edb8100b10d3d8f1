"""The shape of the crash scenarios: runs POSTed at a steady rate while one kind of process is
SIGKILLed at a fixed period and started again at once (a new worker id, as a new machine would
have); then the checker's verdict once the work settled."""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from shared.broker.topology import EMAIL, RUN
from shared.settings import Settings
from tests.chaos.history import History
from tests.chaos.load import Client, new_api_key, post_runs
from tests.chaos.report import Report
from tests.chaos.scenarios.outage import judge, running_services
from tests.chaos.stack import Stack


@dataclass(frozen=True)
class Kills:
    runs: int
    per_second: float
    every_seconds: float
    #: How long the work may take to settle after the last POST before it counts as stalled.
    settle_within: float = 60.0


@dataclass(frozen=True)
class Services:
    executors: int = 2
    schedulers: int = 1
    notifiers: int = 0


#: The queue a replacement of each kind consumes once it is ready; the fault lasts until then.
READY_ON = {"executor": RUN, "notifier": EMAIL}


async def keep_killing(
    stack: Stack, victims: Sequence[str], every: float, history: History, until: asyncio.Event
) -> int:
    """SIGKILL the victims in turn, one every `every` seconds, each started again at once under a
    new worker id, until `until` is set. A fault lasts from the kill until the replacement
    consumes (a scheduler consumes nothing: until it is started). Returns how many kills."""
    kills = 0
    while True:
        # The period is the scenario's script; `until` ends it early.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), every)
        if until.is_set():
            return kills
        name = victims[kills % len(victims)]
        service = name.rsplit("-", 1)[0]
        window = history.fault_started()
        await stack.kill(name)
        await stack.start(name, service, DOCFLOW_WORKER_ID=f"{name}-{kills + 1}")
        if service in READY_ON:
            peers = sum(victim.startswith(f"{service}-") for victim in stack.processes)
            await stack.wait_for_consumers(READY_ON[service], peers)
        history.fault_ended(window)
        kills += 1


async def kills_under_load(
    scenario: str,
    settings: Settings,
    log_dir: Path,
    load: Kills,
    *,
    victims: Sequence[str],
    workflow: dict[str, Any],
    trigger: Callable[[int], dict[str, Any]],
    services: Services = Services(),
    prepare: Callable[[uuid.UUID], Awaitable[None]] | None = None,
) -> tuple[Report, History]:
    history = History()
    async with (
        running_services(
            settings,
            log_dir,
            executors=services.executors,
            schedulers=services.schedulers,
            notifiers=services.notifiers,
        ) as stack,
        aiohttp.ClientSession() as http,
    ):
        workspace_id, key = await new_api_key(settings)
        if prepare is not None:
            await prepare(workspace_id)
        client = Client(http, stack.base_url, key)
        workflow_id = await client.create_workflow(workflow)
        posted = asyncio.Event()
        killing = asyncio.create_task(
            keep_killing(stack, victims, load.every_seconds, history, posted)
        )
        try:
            await post_runs(
                client,
                history,
                workflow_id,
                count=load.runs,
                per_second=load.per_second,
                trigger=trigger,
            )
        finally:
            posted.set()
            kills = await killing
        report = await judge(scenario, stack, history, settle_within=load.settle_within)
    report.extra["kills"] = kills
    return report, history


def run_number(key: str) -> int:
    """The `n` of the run an operation's idempotency key names (`<prefix>-<n>`)."""
    return int(key.rsplit("-", 1)[1])

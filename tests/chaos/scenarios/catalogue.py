"""Every scenario by name, each with its full and reduced size."""

from collections.abc import Awaitable, Callable
from pathlib import Path

from shared.settings import Settings
from tests.chaos.report import Report
from tests.chaos.scenarios import (
    broker,
    executor_kill,
    notifier_kill,
    postgres,
    scheduler_kill,
)

#: (settings, log folder, full size?) -> the scenario's report
Scenario = Callable[[Settings, Path, bool], Awaitable[Report]]


async def _broker_cut(settings: Settings, logs: Path, full: bool) -> Report:
    return await broker.broker_cut(settings, logs, broker.CUT_FULL if full else broker.CUT_REDUCED)


async def _broker_black_hole(settings: Settings, logs: Path, full: bool) -> Report:
    load = broker.BLACK_HOLE_FULL if full else broker.BLACK_HOLE_REDUCED
    return await broker.broker_black_hole(settings, logs, load)


async def _broker_restart(settings: Settings, logs: Path, full: bool) -> Report:
    return await broker.broker_restart(settings, logs, broker.RESTART_FULL)


async def _postgres_cut(settings: Settings, logs: Path, full: bool) -> Report:
    load = postgres.CUT_FULL if full else postgres.CUT_REDUCED
    return await postgres.postgres_cut(settings, logs, load)


async def _postgres_black_hole(settings: Settings, logs: Path, full: bool) -> Report:
    load = postgres.BLACK_HOLE_FULL if full else postgres.BLACK_HOLE_REDUCED
    return await postgres.postgres_black_hole(settings, logs, load)


async def _executor_kill(settings: Settings, logs: Path, full: bool) -> Report:
    load = executor_kill.FULL if full else executor_kill.REDUCED
    return await executor_kill.executor_kill(settings, logs, load)


async def _scheduler_kill(settings: Settings, logs: Path, full: bool) -> Report:
    load = scheduler_kill.FULL if full else scheduler_kill.REDUCED
    return await scheduler_kill.scheduler_kill(settings, logs, load)


async def _notifier_kill(settings: Settings, logs: Path, full: bool) -> Report:
    load = notifier_kill.FULL if full else notifier_kill.REDUCED
    return await notifier_kill.notifier_kill(settings, logs, load)


SCENARIOS: dict[str, Scenario] = {
    "broker-cut": _broker_cut,
    "broker-black-hole": _broker_black_hole,
    "broker-restart": _broker_restart,
    "postgres-cut": _postgres_cut,
    "postgres-black-hole": _postgres_black_hole,
    "executor-kill": _executor_kill,
    "scheduler-kill": _scheduler_kill,
    "notifier-kill": _notifier_kill,
}
#: Scenarios that stop the shared RabbitMQ node: only on request.
STOPS_THE_BROKER = frozenset({"broker-restart"})

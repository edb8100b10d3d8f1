"""Every scenario by name, each with its full and reduced size."""

from collections.abc import Awaitable, Callable
from pathlib import Path

from shared.settings import Settings
from tests.chaos.report import Report
from tests.chaos.scenarios import broker

#: (settings, log folder, full size?) -> the scenario's report
Scenario = Callable[[Settings, Path, bool], Awaitable[Report]]


async def _broker_cut(settings: Settings, logs: Path, full: bool) -> Report:
    return await broker.broker_cut(settings, logs, broker.CUT_FULL if full else broker.CUT_REDUCED)


async def _broker_black_hole(settings: Settings, logs: Path, full: bool) -> Report:
    load = broker.BLACK_HOLE_FULL if full else broker.BLACK_HOLE_REDUCED
    return await broker.broker_black_hole(settings, logs, load)


async def _broker_restart(settings: Settings, logs: Path, full: bool) -> Report:
    return await broker.broker_restart(settings, logs, broker.RESTART_FULL)


SCENARIOS: dict[str, Scenario] = {
    "broker-cut": _broker_cut,
    "broker-black-hole": _broker_black_hole,
    "broker-restart": _broker_restart,
}
#: Scenarios that stop the shared RabbitMQ node: only on request.
STOPS_THE_BROKER = frozenset({"broker-restart"})

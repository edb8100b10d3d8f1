"""Everything the services do on their own clock, with nothing asked of them: the scheduler's
duties and the notifier's retry timer. And the SELECTs one pass of them sends.

This work is paid for every second whether or not anything is due, so each of its queries must
find what is due through an index, at a cost that does not grow with the runs waiting. The
benchmark (bench/events.py, phase parked) EXPLAINs these statements over 100,000 parked runs
and a test checks each can be answered from an index; both take them from here, so neither
holds a copy that could drift from the code.
"""

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.interruptions import put_back_stuck
from services.notifier.retries import republish_due
from services.scheduler.due import due_duties
from services.scheduler.gauges import GaugeRefresher
from services.scheduler.stalled_resumes import StalledResumes
from services.scheduler.worker import DEFAULT_BATCH, DUTIES
from shared.runtime import Resources

Pass = Callable[[], Awaitable[int]]

#: Tables that grow with the runs waiting (or with all runs ever): a periodic query that reads
#: one of them whole costs more with every run parked.
GROWING = (
    "executions",
    "waits",
    "wait_events",
    "approvals",
    "approval_tokens",
    "email_deliveries",
    "execution_steps",
    "execution_transitions",
)


@dataclass(frozen=True)
class Statement:
    #: The duty that sent it, as `scheduler <duty>` or `notifier <timer>`.
    duty: str
    sql: str
    parameters: tuple[Any, ...]


def periodic_duties(resources: Resources) -> list[tuple[str, Pass]]:
    """One pass of each, the paced ones (gauges, stalled resumes) included, and the probe that
    decides which of the others run."""
    scheduler: list[tuple[str, Any]] = [
        *DUTIES,
        ("gauges", GaugeRefresher(0.0)),
        ("stalled_resumes", StalledResumes()),
    ]

    async def probe() -> int:
        return len(await due_duties(resources))

    duties: list[tuple[str, Pass]] = [("scheduler due_probe", probe)]
    for name, duty in scheduler:

        def one(duty: Any = duty) -> Awaitable[int]:
            result: Awaitable[int] = duty(resources, batch=DEFAULT_BATCH)
            return result

        duties.append((f"scheduler {name}", one))
    duties.append(("notifier email_retries", lambda: republish_due(resources)))
    duties.append(("notifier stuck_claims", lambda: put_back_stuck(resources)))
    return duties


@contextlib.contextmanager
def statements_sent(
    engine: AsyncEngine, duty: Callable[[], str] = str
) -> Iterator[list[Statement]]:
    """Every statement `engine` sends meanwhile, as sent (the driver's placeholders and their
    values), each labelled with what `duty()` says at the time."""
    found: list[Statement] = []

    def keep(_conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        found.append(Statement(duty(), sql, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield found
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)


async def selects_of_one_pass(resources: Resources) -> list[Statement]:
    """Run each periodic duty once and return every SELECT it sent. With nothing due the
    duties only read."""
    current = [""]
    with statements_sent(resources.engine, lambda: current[0]) as sent:
        for name, run in periodic_duties(resources):
            current[0] = name
            await run()
    return [s for s in sent if s.sql.lstrip().upper().startswith("SELECT")]

"""Everything the services do on their own clock, with nothing asked of them: the scheduler's
duties and the notifier's retry timer. And the SELECTs one pass of them sends.

This work is paid for every second whether or not anything is due, so each of its queries must
find what is due through an index, at a cost that does not grow with the runs waiting. The
benchmark (bench/events.py, phase parked) EXPLAINs these statements over 100,000 parked runs
and a test checks each can be answered from an index; both take them from here, so neither
holds a copy that could drift from the code.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from services.notifier.interruptions import put_back_stuck
from services.notifier.retries import republish_due
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
    """One pass of each, the paced ones (gauges, stalled resumes) included."""
    scheduler: list[tuple[str, Any]] = [
        *DUTIES,
        ("gauges", GaugeRefresher(0.0)),
        ("stalled_resumes", StalledResumes()),
    ]
    duties: list[tuple[str, Pass]] = []
    for name, duty in scheduler:

        def one(duty: Any = duty) -> Awaitable[int]:
            result: Awaitable[int] = duty(resources, batch=DEFAULT_BATCH)
            return result

        duties.append((f"scheduler {name}", one))
    duties.append(("notifier email_retries", lambda: republish_due(resources)))
    duties.append(("notifier stuck_claims", lambda: put_back_stuck(resources)))
    return duties


async def selects_of_one_pass(resources: Resources) -> list[Statement]:
    """Run each periodic duty once and return every SELECT it sent, as sent (PostgreSQL's
    placeholders and their values). With nothing due the duties only read."""
    found: list[Statement] = []
    current = [""]

    def keep(_conn: Any, _cursor: Any, sql: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            found.append(Statement(current[0], sql, tuple(parameters or ())))

    sync_engine = resources.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", keep)
    try:
        for name, run in periodic_duties(resources):
            current[0] = name
            await run()
    finally:
        event.remove(sync_engine, "before_cursor_execute", keep)
    return found

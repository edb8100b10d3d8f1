"""The queries the scheduler and the notifier run on their own clock, taken from the code.

One pass of every periodic duty is run here, in the benchmark's process, against the
benchmark's database, with a listener on the engine that keeps each SELECT as it is sent
(statement and parameters). So the plans printed are those of the statements the services
send, not of copies that may drift from them. With nothing due the duties only read; any
write they would make is the one the service itself would have made on its next pass.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import event

from services.notifier.interruptions import put_back_stuck
from services.notifier.retries import republish_due
from services.scheduler.gauges import GaugeRefresher
from services.scheduler.stalled_resumes import StalledResumes
from services.scheduler.worker import DEFAULT_BATCH, DUTIES
from shared.runtime import Resources, open_resources
from shared.settings import Settings

#: Tables that grow with the runs parked: a Seq Scan on one of them costs per waiting run.
GROWING = ("waits", "executions", "approvals", "email_deliveries", "approval_tokens")


@dataclass(frozen=True)
class Statement:
    duty: str
    sql: str
    parameters: tuple[Any, ...]


def _periodic(resources: Resources) -> list[tuple[str, Callable[[], Awaitable[int]]]]:
    """Every duty the two services run on a timer, named as their logs name them."""
    duties: list[tuple[str, Callable[[], Awaitable[int]]]] = []
    for name, duty in (
        *DUTIES,
        ("gauges", GaugeRefresher(0.0)),
        ("stalled_resumes", StalledResumes()),
    ):

        def one(duty: Any = duty) -> Awaitable[int]:
            result: Awaitable[int] = duty(resources, batch=DEFAULT_BATCH)
            return result

        duties.append((f"scheduler {name}", one))
    duties.append(("notifier email retries", lambda: republish_due(resources)))
    duties.append(("notifier stuck claims", lambda: put_back_stuck(resources)))
    return duties


async def captured(settings: Settings) -> list[Statement]:
    """Each SELECT one pass of every periodic duty sends, in order."""
    found: list[Statement] = []
    current = [""]

    def keep(_c: Any, _cur: Any, sql: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            found.append(Statement(current[0], sql, tuple(parameters or ())))

    async with open_resources(settings, pool_size=1) as resources:
        event.listen(resources.engine.sync_engine, "before_cursor_execute", keep)
        for name, run in _periodic(resources):
            current[0] = name
            await run()
    return found


async def explained(db: asyncpg.Connection, statement: Statement) -> list[str]:
    """EXPLAIN ANALYZE of `statement` in a transaction rolled back (it may lock rows)."""
    transaction = db.transaction()
    await transaction.start()
    try:
        rows = await db.fetch(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {statement.sql}",
            *statement.parameters,
        )
    finally:
        await transaction.rollback()
    return [row[0] for row in rows]


def scans_growing_table(plan: list[str]) -> list[str]:
    return [t for t in GROWING for text in plan if f"Seq Scan on {t} " in f"{text} "]

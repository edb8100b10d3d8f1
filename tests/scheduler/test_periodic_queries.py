"""What the scheduler and the notifier query on their own clock finds its rows through indexes.

Parked runs must cost nothing: a periodic query that reads a growing table whole pays for every
run waiting, every second. The planner prefers a Seq Scan on a small table, so each statement
is planned with sequential scans priced out (`enable_seqscan = off`): one that still scans a
growing table has no index to use.
"""

from sqlalchemy.ext.asyncio import AsyncConnection

from services.periodic import GROWING, Statement, selects_of_one_pass
from shared.runtime import Resources

#: The periodic duties known to read the database; a new one shows up here.
READING = {
    "scheduler due_probe",
    "scheduler outbox_relay",
    "scheduler lease_sweep",
    "scheduler due_waits",
    "scheduler signature_reconcile",
    "scheduler signature_cancels",
    "scheduler approval_reminders",
    "scheduler gauges",
    "scheduler stalled_resumes",
    "notifier email_retries",
    "notifier stuck_claims",
}


async def plan(connection: AsyncConnection, statement: Statement) -> list[str]:
    result = await connection.exec_driver_sql(
        f"EXPLAIN (COSTS OFF) {statement.sql}", statement.parameters
    )
    return [row[0] for row in result]


async def test_every_periodic_query_of_the_scheduler_and_notifier_can_use_an_index(
    pg_resources: Resources,
) -> None:
    statements = await selects_of_one_pass(pg_resources)
    assert {s.duty for s in statements} == READING

    scanning: dict[str, list[str]] = {}
    async with pg_resources.engine.connect() as connection:
        await connection.exec_driver_sql("SET enable_seqscan = off")
        for statement in statements:
            lines = await plan(connection, statement)
            whole = [t for t in GROWING for text in lines if f"Seq Scan on {t} " in f"{text} "]
            if whole:
                scanning[f"{statement.duty}: {statement.sql[:80]}"] = lines
        await connection.exec_driver_sql("RESET enable_seqscan")
        await connection.rollback()

    assert scanning == {}


async def test_the_open_waits_gauge_counts_from_the_open_kinds_index_alone(
    pg_resources: Resources,
) -> None:
    statements = await selects_of_one_pass(pg_resources)
    (gauge,) = [s for s in statements if s.duty == "scheduler gauges" and "waits" in s.sql]

    async with pg_resources.engine.connect() as connection:
        await connection.exec_driver_sql("SET enable_seqscan = off")
        lines = await plan(connection, gauge)
        await connection.rollback()

    assert any("Index Only Scan using ix_waits_open_kind" in line for line in lines), lines

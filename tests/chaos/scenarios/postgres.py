"""PostgreSQL away under load, for every service at once: the executors must keep their
messages and carry on once it is back; the gateway must refuse at once (`503` with
`Retry-After` within two seconds), never answer `500` and never hang."""

from pathlib import Path

from shared.settings import Settings
from tests.chaos.history import History
from tests.chaos.report import Report
from tests.chaos.scenarios.outage import Load, outage_under_load
from tests.chaos.stack import Stack

CUT_FULL = Load(
    runs=2000, per_second=30, fault_after_seconds=20, fault_seconds=20, settle_within=180
)
CUT_REDUCED = Load(
    runs=240, per_second=30, fault_after_seconds=2, fault_seconds=4, settle_within=40
)
#: A black hole holds the services' connections open and silent: only their own timeouts can
#: tell, and the gateway must still answer in time.
BLACK_HOLE_FULL = Load(
    runs=2000, per_second=30, fault_after_seconds=20, fault_seconds=20, settle_within=180
)
BLACK_HOLE_REDUCED = Load(
    runs=240, per_second=30, fault_after_seconds=2, fault_seconds=4, settle_within=60
)
#: What the issue promises a client while the database is away.
ANSWER_WITHIN_SECONDS = 2.0


async def _cut(stack: Stack) -> None:
    await stack.pg.cut()


async def _black_hole(stack: Stack) -> None:
    stack.pg.black_hole()


async def _restore(stack: Stack) -> None:
    await stack.pg.restore()


async def postgres_cut(settings: Settings, log_dir: Path, load: Load = CUT_REDUCED) -> Report:
    report, history = await outage_under_load(
        "PostgreSQL cut", settings, log_dir, load, fault=_cut, repair=_restore
    )
    return _with_gateway_answers(report, history)


async def postgres_black_hole(
    settings: Settings, log_dir: Path, load: Load = BLACK_HOLE_REDUCED
) -> Report:
    report, history = await outage_under_load(
        "PostgreSQL black-holed", settings, log_dir, load, fault=_black_hole, repair=_restore
    )
    return _with_gateway_answers(report, history)


def _with_gateway_answers(report: Report, history: History) -> Report:
    report.problems.extend(gateway_answers(history))
    during = history.during_faults()
    report.extra["503 during the fault"] = sum(answer.status == 503 for answer in during)
    slowest = max((answer.latency for answer in during), default=0.0)
    report.extra["slowest answer during the fault"] = f"{slowest:.2f} s"
    return report


def gateway_answers(history: History) -> list[str]:
    """Every attempt sent while the fault was on got `202`, or `503` with `Retry-After`, within
    the promised time; nothing else."""
    problems = []
    for answer in history.during_faults():
        if answer.status is None:
            problems.append(f"no answer after {answer.latency:.1f} s: {answer.detail[:120]}")
        elif answer.status == 503 and not answer.retry_after:
            problems.append("503 without Retry-After")
        elif answer.status not in (202, 503):
            problems.append(f"{answer.status}: {answer.detail[:120]}")
        elif answer.latency > ANSWER_WITHIN_SECONDS:
            problems.append(f"{answer.status} after {answer.latency:.1f} s")
    if len(problems) > 5:
        return [*problems[:5], f"… and {len(problems) - 5} more such answers"]
    return problems

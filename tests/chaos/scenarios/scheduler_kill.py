"""Two schedulers, one SIGKILLed every second or two while approval gates expire: each expiry
is applied once (one resume per gate, decided by the timeout) and every run completes."""

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from shared.db.tables import ExecutionTransition, Wait
from shared.runtime import open_resources
from shared.settings import Settings
from tests.chaos.history import Outcome
from tests.chaos.report import Report
from tests.chaos.scenarios.kills import Kills, Services, kills_under_load

FULL = Kills(runs=200, per_second=20, every_seconds=2, settle_within=120)
REDUCED = Kills(runs=80, per_second=20, every_seconds=1.5, settle_within=60)
#: Each gate expires this long after its run paused: the expiries follow the POSTs, spread out.
EXPIRES_IN_SECONDS = 3


def gate_workflow() -> dict[str, Any]:
    return {
        "name": "chaos-gate",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {
                "id": "gate",
                "type": "human-in-loop",
                "position": 1,
                "config": {
                    "approvers": [{"email": "approver@example.com"}],
                    "subject": "Approve run {{ source.n }}",
                    "expires_in": EXPIRES_IN_SECONDS,
                    "on_timeout": "approve",
                },
            },
            {
                "id": "after",
                "type": "set",
                "position": 2,
                "config": {"values": {"seen": "{{ approvals.gate.outcome }}"}},
            },
        ],
    }


async def scheduler_kill(settings: Settings, log_dir: Path, load: Kills = REDUCED) -> Report:
    report, history = await kills_under_load(
        "scheduler SIGKILLed, gates expiring",
        settings,
        log_dir,
        load,
        victims=["scheduler-0", "scheduler-1"],
        workflow=gate_workflow(),
        trigger=lambda n: {"n": n},
        # The notifier sends the approval e-mails (printed: no SMTP server is set).
        services=Services(executors=2, schedulers=2, notifiers=1),
    )
    accepted = [op.execution_id for op in history.with_outcome(Outcome.OK) if op.execution_id]
    resumes, decided_by = await _expiries(settings, accepted)
    twice = [run for run in accepted if resumes.get(run, 0) > 1]
    never = [run for run in accepted if resumes.get(run, 0) == 0]
    not_by_timeout = [run for run in accepted if decided_by.get(run) != "timeout"]
    if twice:
        report.problems.append(f"{len(twice)} gate(s) resumed more than once, e.g. {twice[0]}")
    if never:
        report.problems.append(f"{len(never)} gate(s) never resumed, e.g. {never[0]}")
    if not_by_timeout:
        example = not_by_timeout[0]
        report.problems.append(
            f"{len(not_by_timeout)} gate(s) not decided by their timeout, e.g. {example}: "
            f"{decided_by.get(example)}"
        )
    report.extra["expiries applied"] = sum(resumes.values())
    return report


async def _expiries(
    settings: Settings, runs: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, str | None]]:
    """Per run: how often it left `paused`, and who decided its wait."""
    async with (
        open_resources(settings, pool_size=1, start_broker=False) as resources,
        resources.sessions() as session,
    ):
        resumes = {
            run: int(count)
            for run, count in await session.execute(
                select(ExecutionTransition.execution_id, func.count())
                .where(
                    ExecutionTransition.execution_id.in_(runs),
                    ExecutionTransition.from_status == "paused",
                )
                .group_by(ExecutionTransition.execution_id)
            )
        }
        decided_by = {
            run: (decision or {}).get("by")
            for run, decision in await session.execute(
                select(Wait.execution_id, Wait.decision).where(Wait.execution_id.in_(runs))
            )
        }
    return resumes, decided_by

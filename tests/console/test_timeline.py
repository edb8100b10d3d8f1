"""The timeline: bars on one time axis, a wait drawn as a gap naming what it waits on."""

import uuid
from datetime import UTC, datetime, timedelta

from services.gateway.console.timeline import build, waits_on
from shared.db.tables import Approval, Execution, ExecutionStep, Wait

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_gate_is_a_gap_inside_its_bar_naming_the_approvers_still_pending() -> None:
    execution = Execution(id=uuid.uuid4(), created_at=T0, finished_at=_at(100))
    steps = [
        ExecutionStep(
            id=1, node_id="start", node_type="trigger", attempt=1, status="completed",
            started_at=_at(0), completed_at=_at(10), duration_ms=10_000,
        ),
        ExecutionStep(
            id=2, node_id="gate", node_type="human-in-loop", attempt=1, status="completed",
            started_at=_at(10), completed_at=_at(100), duration_ms=90_000,
        ),
    ]  # fmt: skip
    wait = Wait(
        id=uuid.uuid4(), node_id="gate", kind="approval", rule={},
        created_at=_at(20), decided_at=_at(90), status="decided",
    )  # fmt: skip
    still_open = Wait(id=uuid.uuid4(), node_id="gate", kind="approval", status="open")
    approvals = [
        Approval(wait_id=wait.id, email="a@example.com", status="approved"),
        Approval(wait_id=wait.id, email="b@example.com", status="pending"),
    ]
    line = build(execution, steps, [wait], approvals, now=_at(500))
    pending = Approval(wait_id=still_open.id, email="c@example.com", status="pending")
    assert waits_on(still_open, [*approvals, pending]) == "approval from c@example.com"

    assert (line.start, line.end, line.span_ms) == (T0, _at(100), 100_000)
    first, gate = line.bars
    assert [(s.kind, round(s.start, 3), round(s.width, 3)) for s in first.segments] == [
        ("run", 0.0, 0.1)
    ]
    assert [(s.kind, round(s.start, 3), round(s.width, 3)) for s in gate.segments] == [
        ("run", 0.1, 0.1),
        ("wait", 0.2, 0.7),
        ("run", 0.9, 0.1),
    ]
    assert gate.waits == ["approval (decided), 1 min 10 s"]
    assert (first.elapsed_ms, gate.elapsed_ms) == (10_000, 90_000)


def test_a_run_in_progress_ends_its_axis_now_and_an_instant_step_stays_visible() -> None:
    execution = Execution(id=uuid.uuid4(), created_at=T0, finished_at=None)
    steps = [
        ExecutionStep(
            id=1, node_id="start", node_type="trigger", attempt=1, status="completed",
            started_at=_at(0), completed_at=_at(0), duration_ms=0,
        ),
        ExecutionStep(
            id=2, node_id="wait", node_type="event", attempt=1, status="waiting",
            started_at=_at(1), completed_at=None, duration_ms=None,
        ),
    ]  # fmt: skip
    wait = Wait(
        id=uuid.uuid4(), node_id="wait", kind="event", rule={"name": "signed"},
        created_at=_at(2), decided_at=None, status="open",
    )  # fmt: skip
    line = build(execution, steps, [wait], [], now=_at(10))

    assert line.end == _at(10)
    instant, waiting = line.bars
    assert instant.segments[0].width > 0
    assert [s.kind for s in waiting.segments] == ["run", "wait"]
    assert round(waiting.segments[1].start + waiting.segments[1].width, 3) == 1.0
    assert waiting.waits == ["event “signed”, 8.0 s so far"]
    assert waiting.elapsed_ms == 9_000

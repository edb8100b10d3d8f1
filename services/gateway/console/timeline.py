"""An execution's timeline: one bar per node attempt on a shared time axis, the waits inside
an attempt drawn as gaps labelled with what they wait on.

Positions are fractions of the axis (0 to 1); the template draws them as SVG, whose
attributes a strict CSP allows where inline styles would not be.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.db.tables import Approval, Execution, ExecutionStep, Wait

#: The narrowest segment drawn, so an instant step stays visible and clickable.
MIN_WIDTH = 0.004


@dataclass(frozen=True)
class Segment:
    start: float
    width: float
    #: `run` (the node working) or `wait` (a gap: the node waits on `label`).
    kind: str
    label: str


@dataclass(frozen=True)
class Bar:
    step: ExecutionStep
    segments: list[Segment]
    #: What the attempt's waits waited on and for how long, for the text beside the drawing.
    waits: list[str]
    #: How long the attempt took, or has taken so far.
    elapsed_ms: int


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    bars: list[Bar]

    @property
    def span_ms(self) -> int:
        return int((self.end - self.start).total_seconds() * 1000)


def build(
    execution: Execution,
    steps: Sequence[ExecutionStep],
    waits: Sequence[Wait],
    approvals: Sequence[Approval],
    now: datetime,
) -> Timeline:
    start = min([execution.created_at, *(s.started_at for s in steps)])
    end = execution.finished_at or now
    end = max([end, *(s.completed_at for s in steps if s.completed_at is not None)])
    span = max((end - start).total_seconds(), 0.001)

    def at(moment: datetime) -> float:
        return min(max((moment - start).total_seconds() / span, 0.0), 1.0)

    bars = []
    for step in steps:
        finished = step.completed_at or end
        segments: list[Segment] = []
        labels: list[str] = []
        cursor = step.started_at
        for wait in _waits_of(step, waits, finished):
            label = waits_on(wait, approvals)
            segments.append(_segment(at(cursor), at(wait.created_at), "run", ""))
            wait_end = min(wait.decided_at or finished, finished)
            segments.append(_segment(at(wait.created_at), at(wait_end), "wait", label))
            waited = duration(_ms(wait_end - wait.created_at))
            labels.append(f"{label}, {waited}" + (" so far" if wait.decided_at is None else ""))
            cursor = wait_end
        if finished > cursor or not segments:
            segments.append(_segment(at(cursor), at(finished), "run", ""))
        kept = [s for s in segments if s.width > 0]
        bars.append(Bar(step, kept, labels, _ms(finished - step.started_at)))
    return Timeline(start, end, bars)


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def duration(ms: int | float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{int(ms)} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _segment(start: float, stop: float, kind: str, label: str) -> Segment:
    return Segment(start, max(stop - start, MIN_WIDTH if kind == "run" else 0.0), kind, label)


def _waits_of(step: ExecutionStep, waits: Sequence[Wait], finished: datetime) -> list[Wait]:
    """The waits this attempt opened: same node, opened while it was in progress."""
    return [
        w
        for w in waits
        if w.node_id == step.node_id and step.started_at <= w.created_at <= finished
    ]


def waits_on(wait: Wait, approvals: Sequence[Approval]) -> str:
    rule = wait.rule or {}
    if wait.kind == "approval":
        pending = [a.email for a in approvals if a.wait_id == wait.id and a.status == "pending"]
        if wait.status != "open" or not pending:
            return f"approval ({wait.status})"
        return f"approval from {', '.join(pending)}"
    if wait.kind == "event":
        return f"event “{rule.get('name', '?')}”"
    if wait.kind == "timer":
        return f"a timer until {rule.get('due_at', '?')}"
    if wait.kind == "signature":
        return "signatures"
    if wait.kind == "email":
        return "the e-mail to be sent"
    if wait.kind == "retry":
        return "a retry back-off"
    return wait.kind

"""One scenario's figures, and the table `python -m tests.chaos` prints."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.chaos.checker import Verdict


@dataclass
class Report:
    scenario: str
    verdict: Verdict
    #: What the scenario measured beyond the common figures (webhook repeats, e-mails, …).
    extra: dict[str, object] = field(default_factory=dict)
    #: Scenario-specific findings that make it fail, beside the checker's.
    problems: list[str] = field(default_factory=list)
    #: The end of each service's log, kept when the scenario failed.
    logs: str = ""

    @property
    def holds(self) -> bool:
        return self.verdict.holds and not self.problems

    def explain(self) -> str:
        return "; ".join([self.verdict.explain(), *self.problems])


COLUMNS = (
    "scenario",
    "accepted",
    "503 answers",
    "refused / unknown",
    "lost",
    "duplicated",
    "stalled",
    "recovered",
    "fault end → full flow",
    "202 p50 / p99 in fault",
    "result",
)


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.0f} ms"


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"


def row(report: Report) -> list[str]:
    v = report.verdict
    return [
        report.scenario,
        str(v.accepted),
        str(v.answers_503),
        f"{v.refused} / {v.unknown}",
        str(len(v.lost)),
        str(len(v.duplicated)),
        str(len(v.stalled)),
        str(v.recovered),
        _s(v.recovery_seconds) if v.recovery_seconds is not None or not v.stalled else "never",
        f"{_ms(v.accepted_p50)} / {_ms(v.accepted_p99)}",
        "pass" if report.holds else "FAIL",
    ]


def table(reports: Sequence[Report]) -> str:
    """A Markdown table, ready for the README."""
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row(r)) + " |" for r in reports),
    ]
    for report in reports:
        if report.extra:
            details = ", ".join(f"{k} {v}" for k, v in report.extra.items())
            lines.append(f"\n{report.scenario}: {details}")
        if not report.holds:
            lines.append(f"\n{report.scenario} FAILED: {report.explain()}\n{report.logs}")
    return "\n".join(lines)

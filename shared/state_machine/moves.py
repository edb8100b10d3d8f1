"""Every move of an execution, declared once: its name, the statuses it may start from and
those it may lead to.

Each declaration is checked against the transition table (shared/status.py) when this module
is imported, and each move's statements take their status guard from here: the portable
statements through `guard()`, the PostgreSQL ones through `sql_guard()`. So the table is the
single source, and tests/engine/test_state_machine.py walks every pair of statuses against
the moves.
"""

from dataclasses import dataclass

from sqlalchemy import ColumnElement

from shared.db.tables import Execution
from shared.status import ALLOWED_MOVES, ExecutionStatus
from shared.status import ExecutionStatus as S


@dataclass(frozen=True)
class Move:
    name: str
    sources: frozenset[ExecutionStatus]
    targets: frozenset[ExecutionStatus]

    def __post_init__(self) -> None:
        forbidden = [
            (s, t) for s in self.sources for t in self.targets if (s, t) not in ALLOWED_MOVES
        ]
        if forbidden:
            raise ValueError(f"move {self.name!r} declares moves the table forbids: {forbidden}")

    def guard(self) -> ColumnElement[bool]:
        """`status IN (sources)`, for SQLAlchemy statements."""
        return Execution.status.in_(sorted(self.sources))

    def sql_guard(self, alias: str = "e") -> str:
        """`status IN (sources)`, for the hand-written PostgreSQL statements.

        Written `(…) IS TRUE`, which no index can serve: these statements find their rows by
        id, and the status only checks them. As an index condition it let the planner read
        every execution of the status instead — its statistics, taken while few runs were
        running or queued, rated that one row; in a burst it was hundreds per statement."""
        listed = ", ".join(f"'{status.value}'" for status in sorted(self.sources))
        return f"({alias}.status IN ({listed})) IS TRUE"


def _move(name: str, sources: set[S], targets: set[S]) -> Move:
    return Move(name, frozenset(sources), frozenset(targets))


#: A worker claims a run nobody has started.
CLAIM = _move("claim", {S.QUEUED}, {S.RUNNING})
#: A worker takes over a run whose worker lost its lease (it died, or handed it back).
RECLAIM = _move("reclaim", {S.RUNNING}, {S.RUNNING})
#: `retry` continues a failed run from its failed node.
RETRY = _move("retry", {S.FAILED}, {S.RUNNING})
#: A wait is decided and its run claimed to go on, in one transaction.
RESUME = _move("resume", {S.PAUSED}, {S.RUNNING})
#: After every node: the run goes on, pauses on a wait, completes, or fails.
CHECKPOINT = _move("checkpoint", {S.RUNNING}, {S.RUNNING, S.PAUSED, S.COMPLETED, S.FAILED})
#: The lease holder extends its lease (no new version: its own checkpoints stay valid).
HEARTBEAT = _move("heartbeat", {S.RUNNING}, {S.RUNNING})
#: The lease holder ends its lease early: a stopping worker, or one whose handling failed.
RELEASE = _move("release", {S.RUNNING}, {S.RUNNING})
#: The scheduler fences a worker whose lease expired (its next checkpoint is refused).
FENCE = _move("fence", {S.RUNNING}, {S.RUNNING})
#: On request, from any status that is not final.
CANCEL = _move("cancel", {S.QUEUED, S.RUNNING, S.PAUSED}, {S.CANCELLED})
#: A run no executor can go on with: its run or resume message failed on every delivery.
GIVE_UP = _move("give up", {S.QUEUED, S.RUNNING, S.PAUSED}, {S.FAILED})

MOVES: tuple[Move, ...] = (
    CLAIM, RECLAIM, RETRY, RESUME, CHECKPOINT, HEARTBEAT, RELEASE, FENCE, CANCEL, GIVE_UP,
)  # fmt: skip

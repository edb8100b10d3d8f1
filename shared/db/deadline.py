"""One deadline for all the database work of a request, however many statements it makes.

Each statement has its own bound (DOCFLOW_DB_STATEMENT_TIMEOUT_SECONDS), but a request that
waits for a group commit in flight and then for its own, or tries a transaction twice, waits
out that bound once per statement: on a silent database a run request answered `503` after
twice the bound. The gateway sets a deadline per request (DOCFLOW_DB_REQUEST_BUDGET_SECONDS);
the waits a request makes on the database honour it — a statement sent on the driver
(`shared.db.driver`), a place in a group commit (`shared.group_commit`), the tries of
`shared.db.errors.retrying` — so its `503` comes within the budget.

The deadline is a context variable: a worker never sets one, and work that serves many
callers at once (a group commit's flusher) runs `detached` from the caller that started it.
"""

import contextlib
import contextvars
import time
from collections.abc import Iterator

from shared.errors import DatabaseUnavailable

#: `time.monotonic()` by which the current request's database work must be done; None: no
#: deadline but each statement's own bound.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "database_deadline", default=None
)


class DeadlinePassed(DatabaseUnavailable):
    """The request's database budget is spent: the database counts as unavailable (a `503`
    with Retry-After). As with any `503`, what was in flight may have been committed."""


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Database work inside the block ends by `seconds` from now (or an earlier deadline)."""
    deadline = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left, never below 0; None when no deadline is set."""
    deadline = _DEADLINE.get()
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def bound(timeout: float | None) -> float | None:
    """`timeout`, shortened to what is left of the deadline; raises `DeadlinePassed` when
    nothing is left, so no statement is sent that could not be answered in time."""
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise DeadlinePassed("the database did not answer within the request's budget")
    return left if timeout is None else min(timeout, left)


def detached() -> contextvars.Context:
    """A copy of the current context without a deadline: for a task that serves other callers
    too, whose waits each caller bounds on its own side."""
    context = contextvars.copy_context()
    context.run(_DEADLINE.set, None)
    return context

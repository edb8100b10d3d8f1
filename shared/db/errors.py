"""Which database errors are the server's momentary state, not the request's fault.

A refused or lost connection, a full server, a deadlock or a lock that could not be had says
nothing about the statement: the same transaction, tried again a moment later, may well
succeed. Callers translate these into `DatabaseUnavailable` (a 503 with Retry-After at the
HTTP edge) instead of letting them surface as unexpected errors.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg
import sqlalchemy.exc
import structlog

from shared.db import deadline
from shared.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: SQLSTATE classes and codes that mean "try again": 08 connection exception, 53 insufficient
#: resources (53300 too many connections), 57P01-57P03 shutdown / cannot connect now,
#: 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
_TRANSIENT_CLASSES = ("08", "53")
_TRANSIENT_CODES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01", "55P03"})


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE the driver reported, looked for along the chain of causes."""
    seen: BaseException | None = error
    for _ in range(8):  # a bounded walk: wrappers nest a few levels deep at most
        if seen is None:
            break
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def is_transient(error: BaseException) -> bool:
    if isinstance(error, sqlalchemy.exc.TimeoutError):
        # The pool had no connection to give within its timeout.
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    # SQLAlchemy's wrapped errors and asyncpg's own (statements sent on the raw driver).
    code = sqlstate(error)
    if code is not None:
        return code.startswith(_TRANSIENT_CLASSES) or code in _TRANSIENT_CODES
    if _lost_connection(error):
        return True
    # Opening a connection fails with a bare OSError (refused, reset, timed out): the driver
    # raises it before SQLAlchemy has a DBAPI error to wrap it in.
    return isinstance(error, OSError)


#: What asyncpg says (an InterfaceError, no SQLSTATE) when a statement is sent on a connection
#: that died, and what SQLAlchemy says when such a connection is used again in its transaction.
_LOST_CONNECTION_WORDS = (
    "connection is closed",
    "connection was closed",
    "invalid transaction is rolled back",
)


def _lost_connection(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(8):  # as bounded as `sqlstate`'s walk
        if seen is None:
            return False
        interface = isinstance(
            seen,
            asyncpg.exceptions.InterfaceError
            | sqlalchemy.exc.InterfaceError
            | sqlalchemy.exc.PendingRollbackError,
        )
        if interface and any(words in str(seen) for words in _LOST_CONNECTION_WORDS):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


#: Pauses between tries of a transaction the database could not take: about 1.5 s in all,
#: long enough for a burst to hand connections back, short enough for a person waiting.
RETRY_DELAYS_SECONDS = (0.05, 0.1, 0.2, 0.4, 0.8)


#: Tries start no later than this after the first: a try that waited out a timeout (a database
#: that went silent) is not followed by more of them, so a person waiting gets their 503 soon.
RETRY_BUDGET_SECONDS = 2.0


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    delays: Sequence[float] = RETRY_DELAYS_SECONDS,
    budget: float = RETRY_BUDGET_SECONDS,
) -> T:
    """Run `attempt` (one whole transaction) again while it fails transiently; then raise
    `DatabaseUnavailable`. Only for transactions that are safe to repeat. No try starts after
    the request's database deadline (`shared.db.deadline`)."""
    started = time.monotonic()
    left = deadline.remaining()
    if left is not None:
        budget = min(budget, left)
    for delay in (*delays, None):
        try:
            return await attempt()
        except Exception as e:
            if not is_transient(e):
                raise
            if delay is None or time.monotonic() + delay - started > budget:
                raise DatabaseUnavailable(f"{what}: the database is unavailable") from e
            log.warning("database_retry", what=what, error=type(e).__name__, sqlstate=sqlstate(e))
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last try returns or raises")


#: Pauses between tries of a message's handling while the database is away.
OUTAGE_DELAYS_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


async def through_outages(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    stopping: asyncio.Event,
    delays: Sequence[float] = OUTAGE_DELAYS_SECONDS,
) -> T:
    """Run `attempt` (a message's whole handling, safe to repeat) until it succeeds or fails
    for another reason than the database being away, or the worker is `stopping`.

    A consumer wraps its handler in this so that the message stays in hand through an outage:
    requeued instead, each failed try would use up one of its deliveries, and an outage of a
    few seconds would dead-letter work that was accepted (a queued run nobody runs). The
    delivery limit stays for messages that fail on their own account.
    """
    tries = 0
    while True:
        try:
            return await attempt()
        except Exception as e:
            if not is_transient(e) or stopping.is_set():
                raise
            delay = delays[min(tries, len(delays) - 1)]
            tries += 1
            log.warning(
                "database_outage_waiting",
                what=what,
                tries=tries,
                retry_in_seconds=delay,
                error=type(e).__name__,
            )
            # Woken early by a stop: the message then goes back to the queue at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            if stopping.is_set():
                raise

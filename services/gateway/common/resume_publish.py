"""Publishing the resume a recorded fact staged before that fact's commit is on disk
(docs/decisions/032).

An event or an approver's decision is committed without waiting for the log's flush. Its
resume goes to the broker at once, so the executor's claim does not queue behind the flush;
the client's answer waits for it, so the client hears back only about a fact that survives a
crash. A resume published for a fact a crash then lost finds nothing to decide and changes
nothing; the executor's own flushed commits (a started step, a checkpoint) cover the fact
before anything it does is seen outside the database.
"""

from aiohttp import web

from services.gateway.keys import LOG_FLUSHES, OUTBOX, TASKS
from shared.db.errors import retrying
from shared.errors import DatabaseUnavailable
from shared.outbox import Staged


class Unconfirmed(DatabaseUnavailable):
    """The fact was recorded, but the database did not confirm that it is on disk: it is kept
    unless the database crashed meanwhile. A repeat of the request (the same
    `Idempotency-Key`, resume URL or approval link) answers which."""


async def publish_then_flush(request: web.Request, staged: Staged | None, *, name: str) -> None:
    """Publish `staged`, if any, in the background, then return once every commit the request
    made is on disk. Raises `Unconfirmed` when the flush cannot be confirmed."""
    if staged is not None:
        # The outbox row's delete joins the publisher's next batch: one transaction per fact.
        request.app[TASKS].spawn(request.app[OUTBOX].publish([staged]), name=name)
    try:
        await retrying(request.app[LOG_FLUSHES].wait, what="log flush")
    except DatabaseUnavailable as e:
        raise Unconfirmed(
            "recorded, but the database did not confirm it is on disk; send the same request "
            "again (an event with the same Idempotency-Key) to learn whether it was kept"
        ) from e

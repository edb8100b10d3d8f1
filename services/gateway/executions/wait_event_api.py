"""External events for `event` nodes: `POST /api/v1/executions/{id}/events/{name}` with an API
key, or `POST` to a wait's resume URL (the token in the path is the credential).

Handlers validate the request, record one fact (wait_events.py: on PostgreSQL one statement
that also finds the run's event node) and publish its resume after the commit, answering once
the commit is on disk (common/resume_publish.py); the executor decides the wait. An event
after the wait decided or expired is recorded and answered `409`; a repeat gets the first
delivery's answer.
"""

import asyncio
import contextlib
import uuid
from typing import Any

from aiohttp import web

from services.gateway.common.bodies import json_value, path_id
from services.gateway.common.problems import Problem, invalid, not_found
from services.gateway.common.resume_publish import publish_then_flush
from services.gateway.executions.api import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY
from services.gateway.executions.event_targets import EventTargets
from services.gateway.executions.wait_event_sql import EventRecordings
from services.gateway.executions.wait_events import (
    Delivery,
    Lookup,
    NoSuchEventWait,
    PayloadMismatch,
    Recorded,
    record,
    recordings_for,
)
from services.gateway.keys import RESOURCES, workspace_of
from shared.db.types import utcnow
from shared.resume_urls import token_digest, token_is_valid
from shared.storable import Unstorable, encode_storable

TARGETS = web.AppKey("event_targets", EventTargets)
#: On PostgreSQL, the events delivered together are recorded together; None elsewhere.
RECORDINGS: web.AppKey[EventRecordings | None] = web.AppKey("event_recordings")
#: Events recorded at once on the portable path, a transaction each. Beyond the pool's kept
#: connections, SQLAlchemy opens one more per request and closes it again on return: under a
#: burst each event paid for a new connection. On PostgreSQL a request holds no connection
#: while its event is recorded (the group commit's statements do), so it takes no slot.
DATABASE_SLOTS = web.AppKey("event_database_slots", asyncio.Semaphore)


def add_state(app: web.Application) -> None:
    """What these handlers hold; the routes are in routes.py."""
    pool_size = app[RESOURCES].settings.db_pool_size
    app[TARGETS] = EventTargets(app[RESOURCES].sessions, reads=pool_size)
    app[RECORDINGS] = recordings_for(app[RESOURCES].engine)
    app[DATABASE_SLOTS] = asyncio.Semaphore(pool_size)


async def post_event(request: web.Request) -> web.Response:
    execution_id = path_id(request, "execution_id", "execution")
    name = request.match_info["name"]
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise invalid(IDEMPOTENCY_HEADER, f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    dedup_key = f"key:{key}" if key is not None else f"once:{uuid.uuid4()}"
    lookup = Lookup(execution_id, workspace_of(request), name=name)
    missing = not_found("event wait", f"{name!r} of execution {execution_id}")
    return await _deliver(request, lookup, dedup_key, via="api", missing=missing)


async def post_to_resume_url(request: web.Request) -> web.Response:
    execution_id = path_id(request, "execution_id", "execution")
    node_id, token = request.match_info["node_id"], request.match_info["token"]
    secret_key = request.app[RESOURCES].settings.secret_key
    # An invalid token names nothing, exactly as an unknown execution does.
    missing = not_found("resume URL", "")
    if not token_is_valid(secret_key, execution_id, node_id, token):
        raise missing
    lookup = Lookup(execution_id, None, node_id=node_id)
    dedup_key = f"token:{token_digest(token)}"
    return await _deliver(request, lookup, dedup_key, via="url", missing=missing)


async def _deliver(
    request: web.Request, lookup: Lookup, dedup_key: str, *, via: str, missing: Problem
) -> web.Response:
    payload = await json_value(request)
    try:
        # The payload becomes the node's output: what the database cannot store is refused now.
        encode_storable(payload)
    except Unstorable as e:
        raise invalid("payload", str(e)) from e
    delivery = Delivery(lookup, payload, dedup_key, via, utcnow())
    recordings = request.app[RECORDINGS]
    slot = request.app[DATABASE_SLOTS] if recordings is None else contextlib.nullcontext()
    try:
        async with slot:
            recorded = await record(
                request.app[RESOURCES].sessions, request.app[TARGETS], recordings, delivery
            )
    except NoSuchEventWait:
        raise missing from None
    except PayloadMismatch as e:
        raise invalid("payload", e.problem) from None
    await publish_then_flush(request, recorded.staged, name="publish-event-resume")
    if recorded.status == "late":
        raise Problem(
            409,
            "late-event",
            f"event {recorded.name!r} came after its wait decided, expired or the "
            f"execution ended; it was recorded (id {recorded.event_id}) and changed nothing",
        )
    return web.json_response(_view(lookup, recorded), status=202)


def _view(lookup: Lookup, recorded: Recorded) -> dict[str, Any]:
    return {
        "event_id": recorded.event_id,
        "execution_id": str(lookup.execution_id),
        "node_id": recorded.node_id,
        "name": recorded.name,
        "status": recorded.status,
        "repeat": recorded.repeat,
    }

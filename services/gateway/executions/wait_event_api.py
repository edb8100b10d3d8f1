"""External events for `event` nodes: `POST /api/v1/executions/{id}/events/{name}` with an API
key, or `POST` to a wait's resume URL (the token in the path is the credential).

Handlers validate, record one fact (wait_events.py) and publish its resume after the
commit; the executor decides the wait. An event after the wait decided or expired is
recorded and answered `409`; a repeat gets the first delivery's answer.
"""

import asyncio
import uuid
from typing import Any

from aiohttp import web

from services.gateway.common.bodies import json_value, path_id
from services.gateway.common.problems import Problem, invalid, not_found
from services.gateway.executions.api import IDEMPOTENCY_HEADER, MAX_IDEMPOTENCY_KEY
from services.gateway.executions.event_targets import EventTargets, Target
from services.gateway.executions.wait_events import Delivery, Recorded, record
from services.gateway.keys import OUTBOX, RESOURCES, TASKS, workspace_of
from shared.db.types import utcnow
from shared.resume_urls import token_digest, token_is_valid
from shared.storable import Unstorable, encode_storable

TARGETS = web.AppKey("event_targets", EventTargets)
#: Events being looked up or recorded at once. Beyond the pool's kept connections, SQLAlchemy
#: opens one more per request and closes it again on return: under a burst each event paid for
#: a new PostgreSQL connection (a third of the gateway's CPU). Waiting here is cheaper.
DATABASE_SLOTS = web.AppKey("event_database_slots", asyncio.Semaphore)


def add_state(app: web.Application) -> None:
    """What these handlers hold; the routes are in routes.py."""
    app[TARGETS] = EventTargets(app[RESOURCES].sessions)
    app[DATABASE_SLOTS] = asyncio.Semaphore(app[RESOURCES].settings.db_pool_size)


async def post_event(request: web.Request) -> web.Response:
    execution_id = path_id(request, "execution_id", "execution")
    name = request.match_info["name"]
    async with request.app[DATABASE_SLOTS]:
        target = await request.app[TARGETS].find(
            execution_id, workspace_id=workspace_of(request), name=name
        )
    if target is None:
        raise not_found("event wait", f"{name!r} of execution {execution_id}")
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise invalid(IDEMPOTENCY_HEADER, f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    dedup_key = f"key:{key}" if key is not None else f"once:{uuid.uuid4()}"
    return await _deliver(request, target, dedup_key, via="api")


async def post_to_resume_url(request: web.Request) -> web.Response:
    execution_id = path_id(request, "execution_id", "execution")
    node_id, token = request.match_info["node_id"], request.match_info["token"]
    secret_key = request.app[RESOURCES].settings.secret_key
    # An invalid token names nothing, exactly as an unknown execution does.
    target = None
    if token_is_valid(secret_key, execution_id, node_id, token):
        async with request.app[DATABASE_SLOTS]:
            target = await request.app[TARGETS].find(execution_id, node_id=node_id)
    if target is None:
        raise not_found("resume URL", "")
    return await _deliver(request, target, f"token:{token_digest(token)}", via="url")


async def _deliver(
    request: web.Request, target: Target, dedup_key: str, *, via: str
) -> web.Response:
    payload = await json_value(request)
    try:
        # The payload becomes the node's output: what the database cannot store is refused now.
        encode_storable(payload)
    except Unstorable as e:
        raise invalid("payload", str(e)) from e
    problem = target.node.problem_with(payload)
    if problem is not None:
        raise invalid("payload", problem)
    delivery = Delivery(target, payload, dedup_key, via, utcnow())
    async with request.app[DATABASE_SLOTS]:
        recorded = await record(request.app[RESOURCES].sessions, delivery)
    _publish(request, recorded)
    if recorded.status == "late":
        raise Problem(
            409,
            "late-event",
            f"event {target.node.config.name!r} came after its wait decided, expired or the "
            f"execution ended; it was recorded (id {recorded.event_id}) and changed nothing",
        )
    return web.json_response(_view(target, recorded), status=202)


def _view(target: Target, recorded: Recorded) -> dict[str, Any]:
    return {
        "event_id": recorded.event_id,
        "execution_id": str(target.execution_id),
        "node_id": target.node.node_id,
        "name": target.node.config.name,
        "status": recorded.status,
        "repeat": recorded.repeat,
    }


def _publish(request: web.Request, recorded: Recorded) -> None:
    if recorded.staged is None:
        return
    # Published at once after the commit; the outbox row's delete joins the publisher's next
    # batch (one transaction per event, not two).
    request.app[TASKS].spawn(
        request.app[OUTBOX].publish([recorded.staged]), name="publish-event-resume"
    )

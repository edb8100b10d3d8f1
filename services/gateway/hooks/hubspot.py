"""`POST /api/v1/webhooks/hubspot/{workspace_id}`: HubSpot events start workflows.

The workspace is in the path (it is the target URL of the workspace's HubSpot app); the request
must be signed (v3) with the client secret of one of the workspace's `hubspot` connections, and
only workflows triggered through that connection start. Each event is recorded once in the inbox
(by portal and eventId), in the same transaction as the runs it starts, so HubSpot's retries
and concurrent deliveries start nothing twice.
"""

import time
import uuid
from collections.abc import Callable

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.common.bodies import path_id
from services.gateway.common.problems import Problem
from services.gateway.hooks.trigger_runs import queue_run, triggered_workflows
from services.gateway.keys import RESOURCES, TASKS
from shared.connections.crypto import Sealer, SecretKeyMissing
from shared.connections.kinds import HubSpotConnection
from shared.db.tables import Connection
from shared.hubspot.events import matches, parse_batch, trigger_data
from shared.hubspot.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    StaleRequest,
    check_timestamp,
    signed_by,
)
from shared.inbox import record_event
from shared.outbox import Staged, publish_staged

PATH = "/api/v1/webhooks/hubspot/{workspace_id}"
#: Milliseconds since the epoch; tests set it on the app to check the 5-minute rule.
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("hubspot_clock_ms")
_CHALLENGE = {"WWW-Authenticate": 'HubSpot-Signature-v3 realm="docflow"'}


def _now_ms(app: web.Application) -> float:
    clock = app.get(CLOCK)
    return clock() if clock is not None else time.time() * 1000


def _refused(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers=_CHALLENGE)


async def _client_secrets(
    session: AsyncSession, sealer: Sealer, workspace_id: uuid.UUID
) -> list[tuple[str, str]]:
    """(connection name, client secret) of the workspace's HubSpot connections that have one."""
    rows = await session.execute(
        select(Connection.name, Connection.sealed).where(
            Connection.workspace_id == workspace_id, Connection.kind == "hubspot"
        )
    )
    found = []
    for row in rows:
        try:
            config = HubSpotConnection.model_validate(sealer.open(row.sealed))
        except ValidationError:
            continue
        if config.client_secret:
            found.append((row.name, config.client_secret))
    return found


async def receive(request: web.Request) -> web.Response:
    resources = request.app[RESOURCES]
    workspace_id = path_id(request, "workspace_id", "workspace")
    body = await request.read()
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise _refused(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    try:
        check_timestamp(timestamp, int(_now_ms(request.app)))
    except StaleRequest as e:
        raise _refused(str(e)) from e
    try:
        sealer = Sealer(resources.settings.secret_key)
    except SecretKeyMissing as e:
        raise Problem(503, "not-configured", str(e)) from e
    # HubSpot signs the URL it was given, which is the public one, not this hop's Host.
    uri = resources.settings.public_url.rstrip("/") + request.raw_path
    staged: list[Staged] = []
    started: list[str] = []
    duplicates = 0
    async with resources.sessions.begin() as session:
        candidates = await _client_secrets(session, sealer, workspace_id)
        connection = next(
            (
                name
                for name, secret in candidates
                if signed_by(secret, signature, request.method, uri, body, timestamp)
            ),
            None,
        )
        if connection is None:
            raise _refused(f"{SIGNATURE_HEADER} does not match")
        events = parse_batch(body)
        workflows = await triggered_workflows(session, workspace_id, "hubspot")
        for event in events:
            key = event.dedup_key()
            inserted = await record_event(
                session,
                provider="hubspot",
                event_key=f"{workspace_id}:{key}",
                payload=event.model_dump(mode="json"),
                workspace_id=workspace_id,
            )
            if inserted is None:
                duplicates += 1
                continue
            for workflow in workflows:
                if not matches(workflow.trigger, connection, event):
                    continue
                execution_id, message = await queue_run(
                    session,
                    workflow,
                    trigger_data(event, connection),
                    idempotency_key=f"hubspot:{key}",
                    reason=f"HubSpot {event.subscriptionType} event {event.eventId}",
                )
                started.append(str(execution_id))
                staged.append(message)
    if staged:
        request.app[TASKS].spawn(
            publish_staged(resources.sessions, resources.broker, staged), name="publish-hubspot"
        )
    return web.json_response(
        {"events": len(events), "duplicates": duplicates, "executions": started}
    )

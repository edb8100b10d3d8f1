"""`POST /api/v1/webhooks/signature/{provider}` (the settings account) and
`.../{provider}/{connection_id}` (a workspace's own account): ClickSign and ZapSign events,
verified against that account's secret, kept, and only ever about that account's requests.

No API key: ClickSign signs each body (`Content-Hmac`), ZapSign sends the configured secret
header; anything else is a 401 that changes nothing. The request the event is about names the
workspace. An accepted event is stored once in the inbox and, in the same transaction, a
`signatures.events` message is staged for the executor; the answer does not wait for either the
broker or the provider. A redelivered event answers 200 and does nothing.
"""

import json
import uuid
from dataclasses import replace
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.common.bodies import refuse_unkeepable
from services.gateway.common.problems import Problem, invalid, not_found
from services.gateway.common.webhook_metrics import WEBHOOK_OUTCOME
from services.gateway.keys import OUTBOX, RESOURCES, SIGNATURE_INBOX, TASKS
from shared.broker.topology import SIGNATURES
from shared.connections.crypto import Sealer, SecretKeyMissing, SecretUnreadable
from shared.db.types import utcnow
from shared.esign.accounts import Account, connection_account, settings_account
from shared.esign.store import find_for_event
from shared.esign.webhooks import (
    CLICKSIGN_SIGNATURE_HEADER,
    PROVIDERS,
    ParsedEvent,
    parse,
    stored_key,
    verify_clicksign,
    verify_shared_secret,
)
from shared.inbox import record_event
from shared.messages import SignatureEvent
from shared.outbox import Staged, stage

PATH = "/api/v1/webhooks/signature/{provider}"
#: A workspace's own account: verified against that connection's secret, and only ever about
#: that connection's requests.
CONNECTION_PATH = PATH + "/{connection_id}"


def authentic(account: Account, headers: Any, body: bytes) -> bool:
    if account.provider == "clicksign":
        return verify_clicksign(
            account.webhook_secret, body, headers.get(CLICKSIGN_SIGNATURE_HEADER)
        )
    return verify_shared_secret(account.webhook_secret, headers.get(account.webhook_header))


async def record(
    sessions: async_sessionmaker[AsyncSession],
    event: ParsedEvent,
    payload: dict[str, Any],
    connection_id: uuid.UUID | None = None,
) -> tuple[str, Staged | None]:
    """(outcome, message to publish): accepted, duplicate, or unknown (no such request of
    this account)."""
    async with sessions.begin() as session:
        conn = await session.connection()
        target = await find_for_event(
            conn, event.provider, event.document_key, event.external_id, connection_id
        )
        if target is None:
            return "unknown", None
        inbox_id = await record_event(
            session,
            provider=event.provider,
            event_key=event.event_key,
            payload=payload,
            workspace_id=target.workspace_id,
        )
        if inbox_id is None:
            return "duplicate", None
        message = SignatureEvent(
            provider=event.provider,
            inbox_id=inbox_id,
            request_id=target.request_id,
            payload=payload,
            received_at=utcnow(),
        )
        return "accepted", await stage(session, SIGNATURES, message)


async def receive(request: web.Request) -> web.Response:
    """The settings account's webhook."""
    provider = request.match_info["provider"]
    if provider not in PROVIDERS:
        raise not_found("signature provider", provider)
    account = settings_account(request.app[RESOURCES].settings, provider)
    return await _receive(request, account)


async def receive_for_connection(request: web.Request) -> web.Response:
    """A workspace connection's webhook: its secret, its requests, nothing else."""
    provider = request.match_info["provider"]
    if provider not in PROVIDERS:
        raise not_found("signature provider", provider)
    raw_id = request.match_info["connection_id"]
    try:
        connection_id = uuid.UUID(raw_id)
    except ValueError as e:
        raise not_found(f"{provider} connection", raw_id) from e
    resources = request.app[RESOURCES]
    try:
        sealer = Sealer(resources.settings.secret_key)
    except SecretKeyMissing as e:
        raise Problem(503, "not-configured", str(e)) from e
    try:
        async with resources.engine.connect() as conn:
            found = await connection_account(conn, sealer, connection_id=connection_id)
    except SecretUnreadable as e:
        raise Problem(503, "not-configured", str(e)) from e
    if found is None or found.account.provider != provider:
        raise not_found(f"{provider} connection", connection_id)
    return await _receive(request, found.account)


async def _receive(request: web.Request, account: Account) -> web.Response:
    provider = account.provider
    resources = request.app[RESOURCES]
    body = await request.read()
    if not authentic(account, request.headers, body):
        detail = (
            f"{CLICKSIGN_SIGNATURE_HEADER} is missing or does not match"
            if provider == "clicksign"
            else f"{account.webhook_header} is missing or does not match"
        )
        raise Problem(401, "unauthorized", detail)
    try:
        payload = json.loads(body, parse_constant=_not_json)
    except (ValueError, RecursionError) as e:
        raise Problem(400, "malformed-json", f"the body is not valid JSON: {e}") from e
    refuse_unkeepable(payload)
    event = parse(provider, payload)
    if event is None:
        raise invalid("body", f"is not a {provider} event")
    connection_id = account.connection_id
    if connection_id is not None:
        # Two accounts may name the same document key; their events are different events.
        event = replace(event, event_key=stored_key(f"{connection_id}/{event.event_key}"))
    if resources.settings.is_embedded_database:
        outcome, staged = await record(resources.sessions, event, payload, connection_id)
    else:
        # Stored as the provider sent it; JSON that is not UTF-8 is stored re-encoded.
        text = body.decode() if body.isascii() or _is_utf8(body) else json.dumps(payload)
        outcome, staged = await request.app[SIGNATURE_INBOX].record(
            event, text, payload, utcnow(), connection_id
        )
        if outcome == "unknown" and event.external_id:
            # Only ZapSign's `external_id` can still name it: the general path looks that up.
            outcome, staged = await record(resources.sessions, event, payload, connection_id)
    # Counted at the edge (webhook_metrics); a redelivery or a stranger is named as such.
    if outcome != "accepted":
        request[WEBHOOK_OUTCOME] = outcome
    if staged is not None:
        request.app[TASKS].spawn(
            request.app[OUTBOX].publish([staged]), name="publish-signature-event"
        )
    # 200 even for an unknown request: the provider would only retry it, to no avail.
    return web.json_response({"status": outcome, "event": event.name})


def _not_json(constant: str) -> Any:
    # Python reads NaN and Infinity, which JSON (and PostgreSQL's `json`) does not have.
    raise ValueError(f"{constant} is not a JSON value")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


def webhook_url(public_url: str, kind: str, connection_id: uuid.UUID) -> str:
    """Where a `clicksign` / `zapsign` connection's provider account sends its webhooks."""
    return public_url.rstrip("/") + CONNECTION_PATH.format(
        provider=kind, connection_id=connection_id
    )

"""`POST /api/v1/webhooks/signature/{provider}`: ClickSign and ZapSign events, verified and kept.

No API key: ClickSign signs each body (`Content-Hmac`), ZapSign sends the configured secret
header; anything else is a 401 that changes nothing. The request the event is about names the
workspace. An accepted event is stored once in the inbox and, in the same transaction, a
`signatures.events` message is staged for the executor; the answer does not wait for either the
broker or the provider. A redelivered event answers 200 and does nothing.
"""

import json
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.bodies import refuse_unkeepable
from services.gateway.keys import OUTBOX, RESOURCES, SIGNATURE_INBOX, TASKS
from services.gateway.openapi_schemas import STRING, Schema, ref
from services.gateway.problems import CONTENT_TYPE as PROBLEM_TYPE
from services.gateway.problems import Problem, invalid, not_found
from services.gateway.webhook_metrics import WEBHOOK_OUTCOME
from shared.broker.topology import SIGNATURES
from shared.db.types import utcnow
from shared.esign.store import find_for_event
from shared.esign.webhooks import (
    CLICKSIGN_SIGNATURE_HEADER,
    PROVIDERS,
    ParsedEvent,
    parse,
    verify_clicksign,
    verify_shared_secret,
)
from shared.inbox import record_event
from shared.messages import SignatureEvent
from shared.outbox import Staged, stage
from shared.settings import Settings

PATH = "/api/v1/webhooks/signature/{provider}"


def authentic(provider: str, settings: Settings, headers: Any, body: bytes) -> bool:
    if provider == "clicksign":
        return verify_clicksign(
            settings.clicksign_webhook_secret, body, headers.get(CLICKSIGN_SIGNATURE_HEADER)
        )
    return verify_shared_secret(
        settings.zapsign_webhook_secret, headers.get(settings.zapsign_webhook_header)
    )


async def record(
    sessions: async_sessionmaker[AsyncSession], event: ParsedEvent, payload: dict[str, Any]
) -> tuple[str, Staged | None]:
    """(outcome, message to publish): accepted, duplicate, or unknown (no such request)."""
    async with sessions.begin() as session:
        conn = await session.connection()
        target = await find_for_event(conn, event.provider, event.document_key, event.external_id)
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
    provider = request.match_info["provider"]
    if provider not in PROVIDERS:
        raise not_found("signature provider", provider)
    resources = request.app[RESOURCES]
    body = await request.read()
    if not authentic(provider, resources.settings, request.headers, body):
        detail = (
            f"{CLICKSIGN_SIGNATURE_HEADER} is missing or does not match"
            if provider == "clicksign"
            else f"{resources.settings.zapsign_webhook_header} is missing or does not match"
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
    if resources.settings.is_embedded_database:
        outcome, staged = await record(resources.sessions, event, payload)
    else:
        # Stored as the provider sent it; JSON that is not UTF-8 is stored re-encoded.
        text = body.decode() if body.isascii() or _is_utf8(body) else json.dumps(payload)
        outcome, staged = await request.app[SIGNATURE_INBOX].record(event, text, payload, utcnow())
        if outcome == "unknown" and event.external_id:
            # Only ZapSign's `external_id` can still name it: the general path looks that up.
            outcome, staged = await record(resources.sessions, event, payload)
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


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(PATH, receive)


def _problem(description: str) -> Schema:
    return {"description": description, "content": {PROBLEM_TYPE: {"schema": ref("Problem")}}}


def openapi_paths() -> dict[str, Any]:
    answer = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["accepted", "duplicate", "unknown"]},
            "event": STRING,
        },
        "required": ["status", "event"],
    }
    return {
        PATH: {
            "post": {
                "operationId": "receiveSignatureEvent",
                "summary": (
                    "A ClickSign (Content-Hmac) or ZapSign (secret header) webhook; recorded "
                    "once, applied by the executor"
                ),
                "security": [],
                "parameters": [
                    {
                        "name": "provider",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(PROVIDERS)},
                    },
                    {
                        "name": CLICKSIGN_SIGNATURE_HEADER,
                        "in": "header",
                        "required": False,
                        "schema": STRING,
                        "description": "ClickSign: sha256=<hex HMAC-SHA256 of the raw body>",
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {
                        "description": "Accepted, a duplicate, or about no known request",
                        "content": {"application/json": {"schema": answer}},
                    },
                    "400": _problem("Malformed JSON"),
                    "401": _problem("Missing or wrong signature (or secret header)"),
                    "404": _problem("Unknown provider"),
                    "422": _problem("Not an event of this provider"),
                },
            }
        }
    }

"""Webhooks that arrive together are recorded together, and still each exactly once."""

import asyncio
import json

from sqlalchemy import func, select

from services.gateway.keys import SIGNATURE_INBOX
from services.gateway.signatures.webhooks_pg import InboxWriter
from shared.db.tables import InboxEvent, OutboxMessage
from shared.db.types import utcnow
from shared.esign.webhooks import parse
from tests.signatures.harness import Stack, pending_request
from tests.signatures.providers import clicksign_event, clicksign_headers

EMAIL = "someone@example.com"


async def _requests(stack: Stack, count: int) -> list[str]:
    keys = [f"batch-document-{i}" for i in range(count)]
    for key in keys:
        await pending_request(stack, "clicksign", key, (EMAIL,))
    return keys


def _sign(key: str) -> bytes:
    return clicksign_event("sign", document_key=key, signer_key=f"signer-{key}")


async def _count(stack: Stack, table: type[InboxEvent] | type[OutboxMessage]) -> int:
    async with stack.resources.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def test_events_about_many_requests_posted_at_once_are_each_recorded_once(
    ingest: Stack,
) -> None:
    keys = await _requests(ingest, 6)
    writer = ingest.gateway.client.app[SIGNATURE_INBOX]
    before = writer.statements
    bodies = [_sign(key) for key in keys for _ in range(3)]

    responses = await asyncio.gather(
        *(ingest.post_clicksign(body, "sign", clicksign_headers(body, "sign")) for body in bodies)
    )

    answers = [
        (body, (await r.json())["status"]) for body, r in zip(bodies, responses, strict=True)
    ]
    for key in keys:
        mine = sorted(status for body, status in answers if body == _sign(key))
        assert mine == ["accepted", "duplicate", "duplicate"], key
    assert await _count(ingest, InboxEvent) == len(keys)
    # 18 webhooks, far fewer statements: those that arrived together were written together.
    assert writer.statements - before < len(bodies) / 2


async def test_an_event_postgresql_refuses_fails_alone_and_the_rest_of_its_batch_is_recorded(
    ingest: Stack,
) -> None:
    keys = await _requests(ingest, 3)
    writer = InboxWriter(ingest.resources.engine)
    good = [_sign(key) for key in keys]
    another_signer = clicksign_event("sign", document_key=keys[0], signer_key="another-signer")
    bad = another_signer.replace(b'"sign_as"', b'"not_in_json": NaN, "sign_as"')
    assert bad != another_signer
    events = [*good, bad]

    async def record(body: bytes) -> object:
        event = parse("clicksign", json.loads(body))
        assert event is not None
        return await writer.record(event, body.decode(), json.loads(body), utcnow())

    results = await asyncio.gather(*(record(body) for body in events), return_exceptions=True)

    assert [r[0] for r in results[:3] if isinstance(r, tuple)] == ["accepted"] * 3
    assert isinstance(results[3], Exception)
    assert await _count(ingest, InboxEvent) == 3
    # One statement for the four, which failed; then each alone.
    assert writer.statements == 1 + len(events)


async def test_a_signed_body_with_nan_is_refused_as_malformed_json_and_changes_nothing(
    ingest: Stack,
) -> None:
    """Python reads NaN; JSON and PostgreSQL do not: it is the sender's error, not ours."""
    (key,) = await _requests(ingest, 1)
    body = _sign(key).replace(b'"sign_as"', b'"not_in_json": NaN, "sign_as"')

    response = await ingest.post_clicksign(body, "sign", clicksign_headers(body, "sign"))

    assert response.status == 400
    problem = await response.json()
    assert "NaN" in problem["detail"]
    assert await _count(ingest, InboxEvent) == 0

"""Applying facts to a request's rows, on both backends: PostgreSQL sends it as three
statements, SQLite one per row; the outcome must be the same."""

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.engine import create_engine
from shared.db.tables import Execution, InboxEvent, Workflow, Workspace
from shared.db.types import utcnow
from shared.esign import store
from shared.esign.apply import apply_facts
from shared.esign.model import (
    CreationState,
    Facts,
    RequestStatus,
    SignerFact,
    SignerSpec,
    SignerStatus,
)
from shared.settings import Settings

EMAILS = ("ana@example.com", "bia@example.com", "caio@example.com")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def _request(engine: AsyncEngine) -> uuid.UUID:
    workspace, workflow, execution = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(insert(Workspace).values(id=workspace, name=f"w-{workspace.hex}"))
        await conn.execute(
            insert(Workflow).values(id=workflow, workspace_id=workspace, name="signature")
        )
        await conn.execute(
            insert(Execution).values(
                id=execution, workspace_id=workspace, workflow_id=workflow, workflow_version=1,
                status="paused", context={}, trigger_data={},
            )
        )  # fmt: skip
    request, _ = await store.open_request(
        engine,
        store.NewRequest(
            workspace_id=workspace, execution_id=execution, node_id="sign",
            idempotency_key=f"{execution}:sign", provider="clicksign",
            rule={"rule": "all", "required": len(EMAILS)}, title="Contract", expires_at=None,
            signers=tuple(SignerSpec(i, "Someone", e) for i, e in enumerate(EMAILS)),
        ),
    )  # fmt: skip
    state = CreationState(provider_request_id="envelope", provider_document_id="document")
    await store.save_creation(engine, request.id, state, status=RequestStatus.PENDING)
    return request.id


async def _event(engine: AsyncEngine, key: str) -> int:
    async with engine.begin() as conn:
        inbox_id = await conn.scalar(
            insert(InboxEvent)
            .values(provider="clicksign", event_key=key, payload={}, received_at=utcnow())
            .returning(InboxEvent.id)
        )
    assert inbox_id is not None
    return int(inbox_id)


def _signed(email: str) -> Facts:
    return Facts(signers=(SignerFact(SignerStatus.SIGNED, email=email, at=utcnow()),))


async def test_an_event_signs_its_signer_once_and_a_redelivery_changes_nothing(
    engine: AsyncEngine,
) -> None:
    request_id = await _request(engine)
    first = await _event(engine, "sign:ana")
    async with engine.begin() as conn:
        applied = await apply_facts(conn, request_id, _signed(EMAILS[0]), inbox_id=first)
    assert [s.status for s in applied.signers] == ["signed", "pending", "pending"]
    async with engine.begin() as conn:
        again = await apply_facts(conn, request_id, _signed(EMAILS[1]), inbox_id=first)
    assert [s.status for s in again.signers] == ["signed", "pending", "pending"]
    async with engine.connect() as conn:
        stored = await store.load(conn, request_id)
        processed = await conn.scalar(select(InboxEvent.processed_at))
    assert stored is not None
    assert [s.status for s in stored.signers] == ["signed", "pending", "pending"]
    assert processed is not None


async def test_an_event_signing_everyone_updates_every_signer_and_the_request_together(
    engine: AsyncEngine,
) -> None:
    request_id = await _request(engine)
    first = await _event(engine, "sign:ana")
    async with engine.begin() as conn:
        await apply_facts(conn, request_id, _signed(EMAILS[0]), inbox_id=first)
    closing = await _event(engine, "auto_close")
    async with engine.begin() as conn:
        applied = await apply_facts(
            conn, request_id, Facts(all_signed=True, document_ready=True), inbox_id=closing
        )
    assert applied.status == RequestStatus.SIGNED and applied.provider_done
    async with engine.connect() as conn:
        stored = await store.load(conn, request_id)
    assert stored is not None
    assert [s.status for s in stored.signers] == ["signed"] * 3
    assert (stored.status, stored.provider_done) == (RequestStatus.SIGNED, True)
    # The first signature keeps its own time: only pending signers took the closing event's.
    assert stored.signers[0].acted_at == applied.signers[0].acted_at


async def test_facts_about_a_request_that_does_not_exist_raise_and_leave_the_event_unmarked(
    engine: AsyncEngine,
) -> None:
    inbox_id = await _event(engine, "sign:nobody")
    with pytest.raises(LookupError):
        async with engine.begin() as conn:
            await apply_facts(conn, uuid.uuid4(), _signed(EMAILS[0]), inbox_id=inbox_id)
    async with engine.connect() as conn:
        assert await conn.scalar(select(InboxEvent.processed_at)) is None

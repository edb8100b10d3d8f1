"""Signature requests and their signers as rows: opened once per idempotency key, then
updated step by step while the provider request is set up."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.tables import SignatureRequest, SignedDocument, Signer
from shared.db.types import utcnow
from shared.esign.model import (
    REUSABLE_REQUEST_STATUSES,
    CreationState,
    RequestStatus,
    SignedDocumentInfo,
    SignerSpec,
)


@dataclass(frozen=True)
class SignerRow:
    id: uuid.UUID
    position: int
    name: str
    email: str
    phone: str | None
    phone_country: str | None
    auth: str
    signing_group: int | None
    provider_signer_id: str | None
    status: str
    acted_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class RequestRow:
    id: uuid.UUID
    workspace_id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    provider: str
    generation: int
    wait_id: uuid.UUID
    status: str
    rule: dict[str, Any]
    title: str
    provider_request_id: str | None
    provider_document_id: str | None
    progress: dict[str, Any]
    provider_done: bool
    reason: str | None
    expires_at: datetime | None
    created_at: datetime
    completed_at: datetime | None
    signers: tuple[SignerRow, ...]
    #: The signed file, once downloaded.
    signed_document: SignedDocumentInfo | None = None
    #: The workspace connection whose account made it; None: the settings account.
    connection_id: uuid.UUID | None = None
    #: Set when the run ended with the request open; cancelling it is then the scheduler's.
    cancel_requested_at: datetime | None = None
    cancel_outcome: str | None = None
    cancelled_at: datetime | None = None
    cancel_answer: dict[str, Any] | None = None
    cancel_attempts: int = 0

    @property
    def signed_document_id(self) -> uuid.UUID | None:
        return self.signed_document.id if self.signed_document is not None else None

    @property
    def required(self) -> int:
        return int(self.rule.get("required") or len(self.signers))

    def creation_state(self) -> CreationState:
        return CreationState(
            provider_request_id=self.provider_request_id,
            provider_document_id=self.provider_document_id,
            signer_ids={
                s.position: s.provider_signer_id for s in self.signers if s.provider_signer_id
            },
            progress=dict(self.progress),
        )


_SIGNER_FIELDS = list(SignerRow.__dataclass_fields__)
_REQUEST_FIELDS = [
    c for c in RequestRow.__dataclass_fields__ if c not in ("signers", "signed_document")
]
_DOCUMENT_FIELDS = ("id", "request_id", "filename", "content_type", "size_bytes", "sha256")


def _query() -> Select[Any]:
    """A request with its signers (one row each) and its signed file's description, in one
    round trip."""
    request, signer = SignatureRequest.__table__, Signer.__table__
    document = SignedDocument.__table__
    return (
        select(
            *(request.c[f] for f in _REQUEST_FIELDS),
            *(signer.c[f].label(f"signer_{f}") for f in _SIGNER_FIELDS),
            *(document.c[f].label(f"document_{f}") for f in _DOCUMENT_FIELDS),
        )
        .select_from(
            request.outerjoin(signer, signer.c.request_id == request.c.id).outerjoin(
                document, document.c.request_id == request.c.id
            )
        )
        .order_by(signer.c.position)
    )


async def _fetch(conn: AsyncConnection, query: Select[Any]) -> RequestRow | None:
    rows = (await conn.execute(query)).mappings().all()
    if not rows:
        return None
    first = rows[0]
    document = None
    if first["document_id"] is not None:
        document = SignedDocumentInfo(*(first[f"document_{f}"] for f in _DOCUMENT_FIELDS))
    return RequestRow(
        **{f: first[f] for f in _REQUEST_FIELDS},
        signers=tuple(
            SignerRow(**{f: row[f"signer_{f}"] for f in _SIGNER_FIELDS})
            for row in rows
            if row["signer_id"] is not None
        ),
        signed_document=document,
    )


async def load(
    conn: AsyncConnection, request_id: uuid.UUID, *, for_update: bool = False
) -> RequestRow | None:
    if for_update:
        # Locked first, read after, in two statements: a reader that waited for the lock then
        # sees the signers as the previous holder left them (one statement would read them
        # from before its wait).
        await conn.execute(
            select(SignatureRequest.id).where(SignatureRequest.id == request_id).with_for_update()
        )
    return await _fetch(conn, _query().where(SignatureRequest.id == request_id))


async def by_wait(conn: AsyncConnection, wait_id: uuid.UUID) -> RequestRow | None:
    return await _fetch(conn, _query().where(SignatureRequest.wait_id == wait_id))


@dataclass(frozen=True)
class NewRequest:
    workspace_id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    idempotency_key: str
    provider: str
    rule: dict[str, Any]
    title: str
    expires_at: datetime | None
    signers: tuple[SignerSpec, ...]
    #: The workspace's `clicksign` / `zapsign` connection; None: the settings account.
    connection_id: uuid.UUID | None = None


async def open_request(engine: AsyncEngine, new: NewRequest) -> tuple[RequestRow, bool]:
    """The request this idempotency key already has and may reuse, or a new one (True)."""
    for _ in range(3):
        try:
            async with engine.begin() as conn:
                latest = (
                    await conn.execute(
                        select(
                            SignatureRequest.id,
                            SignatureRequest.status,
                            SignatureRequest.generation,
                        )
                        .where(SignatureRequest.idempotency_key == new.idempotency_key)
                        .order_by(SignatureRequest.generation.desc())
                        .limit(1)
                    )
                ).first()
                if latest is not None and latest.status in REUSABLE_REQUEST_STATUSES:
                    reused = await load(conn, latest.id)
                    assert reused is not None
                    return reused, False
                generation = latest.generation + 1 if latest is not None else 1
                request_id = await _insert(conn, new, generation)
                created = await load(conn, request_id)
                assert created is not None
                return created, True
        except IntegrityError:
            # A concurrent attempt of the same node inserted this generation first: read it.
            continue
    raise RuntimeError(f"could not open a signature request for {new.idempotency_key}")


async def _insert(conn: AsyncConnection, new: NewRequest, generation: int) -> uuid.UUID:
    now = utcnow()
    request_id = uuid.uuid4()
    await conn.execute(
        insert(SignatureRequest).values(
            id=request_id,
            workspace_id=new.workspace_id,
            execution_id=new.execution_id,
            node_id=new.node_id,
            idempotency_key=new.idempotency_key,
            generation=generation,
            provider=new.provider,
            connection_id=new.connection_id,
            wait_id=uuid.uuid4(),
            status=RequestStatus.CREATING.value,
            rule=new.rule,
            title=new.title,
            progress={},
            provider_done=False,
            expires_at=new.expires_at,
            created_at=now,
            updated_at=now,
            last_activity_at=now,
        )
    )
    await conn.execute(
        insert(Signer),
        [
            {
                "id": uuid.uuid4(),
                "request_id": request_id,
                "position": s.position,
                "name": s.name,
                "email": s.email,
                "phone": s.phone,
                "phone_country": s.phone_country if s.phone else None,
                "auth": s.auth,
                "signing_group": s.group,
                "status": "pending",
                "updated_at": now,
            }
            for s in new.signers
        ],
    )
    return request_id


async def save_creation(
    engine: AsyncEngine,
    request_id: uuid.UUID,
    state: CreationState,
    *,
    status: RequestStatus | None = None,
) -> None:
    """Record what the provider answered, in a transaction of its own, before anything else.

    A request whose run ended meanwhile (its cancellation found no document yet to cancel)
    is put back in line for cancelling as soon as the provider's document is known."""
    values: dict[str, Any] = {
        "provider_request_id": state.provider_request_id,
        "provider_document_id": state.provider_document_id,
        "progress": dict(state.progress),
        "updated_at": utcnow(),
    }
    async with engine.begin() as conn:
        query = update(SignatureRequest).where(SignatureRequest.id == request_id)
        if status is not None:
            values["status"] = status.value
            query = query.where(SignatureRequest.status == RequestStatus.CREATING.value)
        await conn.execute(query.values(**values))
        if state.provider_document_id is not None:
            await conn.execute(
                update(SignatureRequest)
                .where(
                    SignatureRequest.id == request_id,
                    SignatureRequest.cancel_outcome == "nothing_to_cancel",
                )
                .values(cancel_outcome=None, cancel_due_at=utcnow())
            )
        for position, signer_id in state.signer_ids.items():
            await conn.execute(
                update(Signer)
                .where(
                    Signer.request_id == request_id,
                    Signer.position == position,
                    Signer.provider_signer_id.is_(None),
                )
                .values(provider_signer_id=signer_id)
            )


@dataclass(frozen=True)
class EventTarget:
    request_id: uuid.UUID
    workspace_id: uuid.UUID


async def find_for_event(
    conn: AsyncConnection,
    provider: str,
    document_key: str,
    external_id: str | None,
    connection_id: uuid.UUID | None = None,
) -> EventTarget | None:
    """The request a webhook is about: by the provider's document key, else (ZapSign) by
    `external_id`, which is our idempotency key; the newest generation wins. Only requests of
    the account the webhook was verified for: `connection_id`'s, or (None) the settings'."""
    columns = (SignatureRequest.id, SignatureRequest.workspace_id)
    newest = SignatureRequest.generation.desc()
    same_account = (
        SignatureRequest.connection_id.is_(None)
        if connection_id is None
        else SignatureRequest.connection_id == connection_id
    )
    row = (
        await conn.execute(
            select(*columns)
            .where(
                SignatureRequest.provider == provider,
                SignatureRequest.provider_document_id == document_key,
                same_account,
            )
            .order_by(newest)
            .limit(1)
        )
    ).first()
    if row is None and external_id:
        row = (
            await conn.execute(
                select(*columns)
                .where(
                    SignatureRequest.provider == provider,
                    SignatureRequest.idempotency_key == external_id,
                    same_account,
                )
                .order_by(newest)
                .limit(1)
            )
        ).first()
    return EventTarget(row.id, row.workspace_id) if row is not None else None

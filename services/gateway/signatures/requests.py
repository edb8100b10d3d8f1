"""Signature requests over the API: in `GET /executions/{id}`, one by one, and the signed file.

`GET /api/v1/signature-requests/{request_id}` shows a request with its signers;
`GET /api/v1/signature-requests/{request_id}/signed-document` returns the signed file, with its
SHA-256 as the ETag. Both are scoped to the API key's workspace.
"""

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.common.bodies import path_id
from services.gateway.common.problems import not_found
from services.gateway.keys import RESOURCES, workspace_of
from shared.db.tables import SignatureRequest, SignedDocument, Signer
from shared.esign.documents import content_for

PATH = "/api/v1/signature-requests/{request_id}"
DOCUMENT_PATH = PATH + "/signed-document"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _document_url(request_id: uuid.UUID) -> str:
    return DOCUMENT_PATH.format(request_id=request_id)


async def signature_requests_of(
    session: AsyncSession,
    execution_id: uuid.UUID,
    *,
    request_id: uuid.UUID | None = None,
    workspace_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """The execution's signature requests (or one request) with their signers, oldest first."""
    query = select(SignatureRequest)
    if request_id is not None:
        query = query.where(
            SignatureRequest.id == request_id, SignatureRequest.workspace_id == workspace_id
        )
    else:
        query = query.where(SignatureRequest.execution_id == execution_id)
    requests = (
        await session.scalars(query.order_by(SignatureRequest.created_at, SignatureRequest.id))
    ).all()
    if not requests:
        return []
    ids = [r.id for r in requests]
    signers = (
        await session.scalars(
            select(Signer).where(Signer.request_id.in_(ids)).order_by(Signer.position)
        )
    ).all()
    documents = (
        await session.execute(
            select(
                SignedDocument.request_id,
                SignedDocument.id,
                SignedDocument.filename,
                SignedDocument.content_type,
                SignedDocument.size_bytes,
                SignedDocument.sha256,
            ).where(SignedDocument.request_id.in_(ids))
        )
    ).all()
    by_request = {d.request_id: d for d in documents}
    return [
        _view(r, [s for s in signers if s.request_id == r.id], by_request.get(r.id))
        for r in requests
    ]


def _view(request: SignatureRequest, signers: Sequence[Signer], document: Any) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "node_id": request.node_id,
        "provider": request.provider,
        "generation": request.generation,
        "status": request.status,
        "rule": request.rule,
        "title": request.title,
        "provider_request_id": request.provider_request_id,
        "provider_document_id": request.provider_document_id,
        "reason": request.reason,
        "expires_at": _iso(request.expires_at),
        "created_at": _iso(request.created_at),
        "completed_at": _iso(request.completed_at),
        "connection_id": str(request.connection_id) if request.connection_id else None,
        "cancellation": _cancellation(request),
        "signers": [
            {
                "position": s.position,
                "name": s.name,
                "email": s.email,
                "status": s.status,
                "acted_at": _iso(s.acted_at),
                "reason": s.reason,
                "provider_signer_id": s.provider_signer_id,
            }
            for s in signers
        ],
        "signed_document": (
            {
                "id": str(document.id),
                "filename": document.filename,
                "content_type": document.content_type,
                "size": document.size_bytes,
                "sha256": document.sha256,
                "url": _document_url(request.id),
            }
            if document is not None
            else None
        ),
    }


def _cancellation(request: SignatureRequest) -> dict[str, Any] | None:
    """Cancelling it at the provider after its run ended: requested, tried, and the outcome
    (`cancelled`, `refused`, `gave_up`, `nothing_to_cancel`; null while still trying)."""
    if request.cancel_requested_at is None:
        return None
    return {
        "requested_at": _iso(request.cancel_requested_at),
        "outcome": request.cancel_outcome,
        "cancelled_at": _iso(request.cancelled_at),
        "attempts": request.cancel_attempts,
        "next_attempt_at": _iso(request.cancel_due_at),
        "answer": request.cancel_answer,
    }


async def read(request: web.Request) -> web.Response:
    request_id = path_id(request, "request_id", "signature request")
    async with request.app[RESOURCES].sessions() as session:
        found = await signature_requests_of(
            session, request_id, request_id=request_id, workspace_id=workspace_of(request)
        )
    if not found:
        raise not_found("signature request", request_id)
    return web.json_response(found[0])


async def signed_document(request: web.Request) -> web.Response:
    request_id = path_id(request, "request_id", "signature request")
    async with request.app[RESOURCES].engine.connect() as conn:
        found = await content_for(conn, workspace_of(request), request_id)
    if found is None:
        raise not_found("signed document of signature request", request_id)
    info, content = found
    ascii_name = info.filename.encode("ascii", "replace").decode().replace('"', "'")
    return web.Response(
        body=content,
        content_type=info.content_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(info.filename)}"
            ),
            "ETag": f'"{info.sha256}"',
        },
    )

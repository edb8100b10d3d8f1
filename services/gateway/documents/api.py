"""/api/v1/documents: generated documents, their lineage and their bytes."""

from typing import Any
from urllib.parse import quote

from aiohttp import web

from services.gateway.common.bodies import path_id, query_uuid
from services.gateway.common.problems import Problem, invalid
from services.gateway.keys import RESOURCES, workspace_of
from shared.documents import (
    DocumentMeta,
    DocumentNotReady,
    documents_of_execution,
    load_document,
    read_document,
)

PREFIX = "/api/v1/documents"


def _view(request: web.Request, document: DocumentMeta) -> dict[str, Any]:
    base = request.app[RESOURCES].settings.public_url.rstrip("/")
    template: dict[str, Any] | None = None
    if document.template_id is not None:
        template = {"id": str(document.template_id), "version": document.template_version}
    elif document.template_file_id is not None:
        template = {"drive_file_id": document.template_file_id}
    return {
        "id": str(document.id),
        "execution_id": str(document.execution_id),
        "node_id": document.node_id,
        "name": document.name,
        "content_type": document.content_type,
        "variant": document.variant,
        "status": document.status,
        "sha256": document.sha256,
        "size": document.size,
        "input_sha256": document.input_sha256,
        "template": template,
        "derived_from": str(document.derived_from) if document.derived_from else None,
        "provider_ids": document.provider_ids,
        "links": {**document.links, "content": f"{base}{PREFIX}/{document.id}/content"},
        "created_at": document.created_at.isoformat(),
        "updated_at": document.updated_at.isoformat(),
    }


async def list_for_execution(request: web.Request) -> web.Response:
    execution_id = query_uuid(request, "execution_id")
    if execution_id is None:
        raise invalid("execution_id", "is required")
    async with request.app[RESOURCES].sessions() as session:
        documents = await documents_of_execution(session, workspace_of(request), execution_id)
    return web.json_response({"items": [_view(request, d) for d in documents]})


async def read(request: web.Request) -> web.Response:
    document_id = path_id(request, "document_id", "document")
    async with request.app[RESOURCES].sessions() as session:
        document = await read_document(session, workspace_of(request), document_id)
    return web.json_response(_view(request, document))


async def content(request: web.Request) -> web.Response:
    document_id = path_id(request, "document_id", "document")
    if_none_match = request.headers.get("If-None-Match")
    try:
        async with request.app[RESOURCES].sessions() as session:
            if if_none_match is not None:
                # The client's copy is current: answered from the row, the bytes left unread.
                meta = await read_document(session, workspace_of(request), document_id)
                if meta.sha256 is not None and _matches(if_none_match, meta.sha256):
                    return web.Response(status=304, headers={"ETag": f'"{meta.sha256}"'})
            document, data = await load_document(session, workspace_of(request), document_id)
    except DocumentNotReady as e:
        raise Problem(409, "not-ready", str(e)) from e
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.name)}",
        "ETag": f'"{document.sha256}"',
    }
    return web.Response(body=data, content_type=document.content_type, headers=headers)


def _matches(if_none_match: str, sha256: str) -> bool:
    """RFC 9110 §13.1.2: `*`, or any listed tag, compared weakly (a `W/` prefix is ignored)."""
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or f'"{sha256}"' in tags

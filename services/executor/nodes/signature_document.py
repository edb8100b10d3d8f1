"""The file a `signature` node sends: from an earlier node's document, a URL, or inline base64.

Read only when the provider request is first set up; a re-run that reuses the request never
fetches it again.
"""

import base64
import binascii
import posixpath
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import column, select, table

from services.executor.nodes.base import NodeCall
from shared.db.tables import SignedDocument
from shared.esign.errors import DocumentUnavailable, ProviderError
from shared.esign.http import download
from shared.esign.model import DocumentFile
from shared.nodes.signature import DocumentSource

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Generated documents (Word, PowerPoint, Google) live in the documents capability's table; it
# is read by name so this module does not depend on that capability's models.
_documents = table(
    "documents",
    column("id"),
    column("workspace_id"),
    column("name"),
    column("content_type"),
    column("content"),
)


async def load_document(call: NodeCall, source: DocumentSource) -> DocumentFile:
    settings = call.services.settings
    limit = settings.signature_max_document_bytes
    if source.content_base64 is not None:
        content = _decode(str(call.render(source.content_base64)))
        return _file(call, source, content, None, None)
    if source.url is not None:
        url = str(call.render(source.url))
        content, content_type = await _fetch(call, url, limit)
        return _file(call, source, content, content_type, _name_from_url(url))
    assert source.node is not None
    return await _from_node(call, source, limit)


async def _from_node(call: NodeCall, source: DocumentSource, limit: int) -> DocumentFile:
    entry = _entry_of(call, str(source.node))
    name = entry.get("filename") or entry.get("name")
    content_type = entry.get("content_type")
    if entry.get("content_base64"):
        content = _decode(str(entry["content_base64"]))
    elif entry.get("signature_request_id") and entry.get("id"):
        content = await _signed_content(call, uuid.UUID(str(entry["id"])))
    elif entry.get("id"):
        content, stored_name, stored_type = await _generated_content(call, str(entry["id"]))
        name, content_type = name or stored_name, content_type or stored_type
    elif entry.get("url") or entry.get("download_url"):
        url = str(entry.get("url") or entry.get("download_url"))
        content, fetched_type = await _fetch(call, url, limit)
        name, content_type = name or _name_from_url(url), content_type or fetched_type
    else:
        raise DocumentUnavailable(f"node {source.node!r} produced no document this node can read")
    if len(content) > limit:
        raise DocumentUnavailable(f"the document is larger than {limit} bytes")
    return _file(call, source, content, content_type, name)


def _entry_of(call: NodeCall, node_id: str) -> dict[str, Any]:
    """The node's last generated document, preferring a PDF rendering; else its output."""
    produced = [
        d
        for d in call.context.generated_documents
        if isinstance(d, dict) and d.get("node_id") == node_id
    ]
    pdfs = [d for d in produced if d.get("content_type") == PDF or d.get("variant") == "pdf"]
    if pdfs or produced:
        return (pdfs or produced)[-1]
    output = call.context.node_outputs.get(node_id)
    if isinstance(output, dict):
        return output
    raise DocumentUnavailable(f"node {node_id!r} has produced no document in this execution")


async def _signed_content(call: NodeCall, document_id: uuid.UUID) -> bytes:
    assert call.services.engine is not None
    async with call.services.engine.connect() as conn:
        content = await conn.scalar(
            select(SignedDocument.content).where(
                SignedDocument.id == document_id,
                SignedDocument.workspace_id == call.workspace_id,
            )
        )
    if content is None:
        raise DocumentUnavailable(f"signed document {document_id} not found")
    return bytes(content)


async def _generated_content(call: NodeCall, document_id: str) -> tuple[bytes, str, str]:
    assert call.services.engine is not None
    try:
        async with call.services.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_documents.c.content, _documents.c.name, _documents.c.content_type)
                    .where(_documents.c.id == uuid.UUID(document_id))
                    .where(_documents.c.workspace_id == call.workspace_id)
                )
            ).first()
    except ValueError as e:
        raise DocumentUnavailable(f"{document_id!r} is not a document id") from e
    if row is None or row.content is None:
        raise DocumentUnavailable(f"document {document_id} has no content yet")
    return bytes(row.content), str(row.name), str(row.content_type)


async def _fetch(call: NodeCall, url: str, limit: int) -> tuple[bytes, str]:
    if not url.startswith(("http://", "https://")):
        raise DocumentUnavailable(f"{url!r} is not an http(s) URL")
    try:
        return await download(
            call.services.http,
            url,
            timeout_seconds=call.services.settings.signature_http_timeout_seconds,
            max_bytes=limit,
        )
    except ProviderError as e:
        raise DocumentUnavailable(f"could not read the document: {e}") from e


def _decode(encoded: str) -> bytes:
    # A data URI is accepted too: `data:application/pdf;base64,JVBER…`.
    payload = encoded.split(",", 1)[1] if encoded.startswith("data:") else encoded
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise DocumentUnavailable("'content_base64' is not valid base64") from e


def _name_from_url(url: str) -> str | None:
    name = posixpath.basename(urlsplit(url).path)
    return name or None


def _file(
    call: NodeCall,
    source: DocumentSource,
    content: bytes,
    content_type: str | None,
    name: str | None,
) -> DocumentFile:
    if not content:
        raise DocumentUnavailable("the document is empty")
    filename = str(call.render(source.filename)) if source.filename else name or "document.pdf"
    declared = source.content_type or content_type
    if declared in (None, "", "application/octet-stream"):
        declared = DOCX if filename.lower().endswith(".docx") else PDF
    return DocumentFile(filename=filename, content=content, content_type=str(declared))

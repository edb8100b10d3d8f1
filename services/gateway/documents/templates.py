"""/api/v1/templates: .docx/.pptx templates, uploaded as multipart, versioned by name."""

import asyncio
import uuid
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from services.gateway.common.bodies import path_id
from services.gateway.common.problems import Problem, invalid
from services.gateway.keys import RESOURCES, workspace_of
from shared.documents import (
    TemplateInfo,
    TemplateVersionInfo,
    add_template_version,
    list_templates,
    read_template,
)
from shared.documents.checks import check_template
from shared.documents.kinds import kind_of

PREFIX = "/api/v1/templates"
MAX_NAME = 200
#: Bytes read per step while streaming an upload.
CHUNK = 64 * 1024


async def upload(request: web.Request) -> web.Response:
    """Multipart with a `file` part (.docx or .pptx) and an optional `name` (default: the
    file's name without extension). A name that exists gets its next version."""
    if not request.content_type.startswith("multipart/form-data"):
        raise Problem(415, "unsupported-media-type", "send the template as multipart/form-data")
    limit = request.app[RESOURCES].settings.template_max_bytes
    try:
        filename, data, name = await _read_parts(request, limit)
    except (ValueError, LookupError, HttpProcessingError) as e:
        # aiohttp's reader says what is wrong with the body (no boundary, a bad header line,
        # an unknown charset, a truncated part) by raising; all of it is the client's.
        raise Problem(400, "malformed-multipart", f"the multipart body is malformed: {e}") from e
    name = _valid_name(name if name is not None else filename.rsplit(".", 1)[0])
    await asyncio.to_thread(check_template, kind_of(filename, data), data)
    async with request.app[RESOURCES].sessions.begin() as session:
        info = await add_template_version(
            session, workspace_of(request), name=name, filename=filename, data=data
        )
    location = f"{PREFIX}/{info.id}"
    return web.json_response(_view(info), status=201, headers={"Location": location})


async def _read_parts(request: web.Request, limit: int) -> tuple[str, bytes, str | None]:
    reader = await request.multipart()
    filename: str | None = None
    data = b""
    name: str | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise invalid("body", "nested multipart bodies are not accepted")
        if part.name == "file":
            if not part.filename:
                raise invalid("file", "the part needs a filename (template.docx or .pptx)")
            filename = part.filename
            data = await _bounded(part, limit)
        elif part.name == "name":
            name = (await part.text()).strip()
        else:
            raise invalid(str(part.name), "unknown part; send `file` and optionally `name`")
    if filename is None:
        raise invalid("file", "a `file` part is required")
    return filename, data, name


async def _bounded(part: BodyPartReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > limit:
            raise Problem(413, "payload-too-large", f"templates are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _valid_name(name: str) -> str:
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise invalid("name", f"must be 1 to {MAX_NAME} printable characters")
    try:
        uuid.UUID(name)
    except ValueError:
        return name
    # Nodes name a template by id or by name; a name that reads as an id would be ambiguous.
    raise invalid("name", "must not look like a template id (a UUID)")


async def list_all(request: web.Request) -> web.Response:
    async with request.app[RESOURCES].sessions() as session:
        templates = await list_templates(session, workspace_of(request))
    return web.json_response({"items": [_view(t) for t in templates]})


async def read(request: web.Request) -> web.Response:
    template_id = path_id(request, "template_id", "template")
    async with request.app[RESOURCES].sessions() as session:
        info = await read_template(session, workspace_of(request), template_id)
    return web.json_response(_view(info))


def _version_view(version: TemplateVersionInfo) -> dict[str, Any]:
    return {
        "version": version.version,
        "filename": version.filename,
        "content_type": version.content_type,
        "sha256": version.sha256,
        "size": version.size,
        "created_at": version.created_at.isoformat(),
    }


def _view(info: TemplateInfo) -> dict[str, Any]:
    current = next(v for v in info.versions if v.version == info.current_version)
    return {
        "id": str(info.id),
        "name": info.name,
        "kind": info.kind,
        **_version_view(current),
        "created_at": info.created_at.isoformat(),
        "updated_at": info.updated_at.isoformat(),
        "versions": [_version_view(v) for v in info.versions],
    }

"""Publishing a generated Office file to OneDrive/SharePoint, and its PDF from Graph.

Each step is skipped when the document already records it (a re-run after a crash), and each
result is recorded as soon as it exists.
"""

import posixpath
from collections.abc import Awaitable, Callable

from services.executor.nodes.base import NodeCall
from services.executor.nodes.documents_common import connection_of, engine_of
from shared.connections.kinds import MicrosoftConnection
from shared.documents import (
    DocumentMeta,
    NewDocument,
    add_provider_copy,
    find_document,
    save_document,
)
from shared.documents.kinds import PDF_TYPE
from shared.errors import DocflowError
from shared.nodes.documents import GraphUpload
from shared.providers_http.graph_drive import GraphDrive
from shared.providers_http.microsoft import graph_token


class UploadMisconfigured(DocflowError):
    pass


async def publish(
    call: NodeCall,
    document: DocumentMeta,
    content: Callable[[], Awaitable[bytes]],
    upload: GraphUpload,
    folder: str,
) -> tuple[DocumentMeta, DocumentMeta | None]:
    """The document with its Graph copy recorded, and its PDF when `upload.pdf` asks for one.

    `content` reads the document's bytes, only when they still have to be uploaded.
    """
    connection = await connection_of(call, upload.connection, MicrosoftConnection)
    if upload.drive_id is None and connection.user is None:
        raise UploadMisconfigured(
            f"connection {upload.connection!r} names no user whose OneDrive to upload to; "
            "set its `user` or the upload's `drive_id`"
        )
    drive: GraphDrive | None = None

    async def graph() -> GraphDrive:
        nonlocal drive
        if drive is None:
            token = await graph_token(call.services.http, connection)
            drive = GraphDrive(
                call.services.http, connection.graph_base_url, token,
                user=None if upload.drive_id else connection.user, drive_id=upload.drive_id,
            )  # fmt: skip
        return drive

    engine = engine_of(call)
    if "graph" not in document.provider_ids:
        path = posixpath.join(folder.strip("/"), document.name)
        item = await (await graph()).upload(
            path, await content(), document.content_type,
            simple_max_bytes=call.services.settings.graph_simple_upload_max_bytes,
        )  # fmt: skip
        web = item.get("webUrl")
        async with engine.begin() as conn:
            document = await add_provider_copy(
                conn, document.id, "graph",
                {"item_id": item["id"], "path": path, "drive_id": upload.drive_id},
                {"web": web} if isinstance(web, str) else {},
            )  # fmt: skip
    if not upload.pdf:
        return document, None
    key = call.idempotency_key
    async with engine.connect() as conn:
        pdf = await find_document(conn, key, document.input_sha256, "pdf")
    if pdf is None:
        item_id = document.provider_ids["graph"]["item_id"]
        data = await (await graph()).content_as(item_id, "pdf")
        async with engine.begin() as conn:
            pdf = await save_document(
                conn,
                NewDocument(
                    workspace_id=call.workspace_id, execution_id=call.execution_id,
                    node_id=call.node_id, idempotency_key=key,
                    input_sha256=document.input_sha256, variant="pdf",
                    name=posixpath.splitext(document.name)[0] + ".pdf", content_type=PDF_TYPE,
                    content=data, derived_from=document.id,
                    provider_ids={"graph": {"item_id": item_id, "format": "pdf"}},
                ),
            )  # fmt: skip
    return document, pdf

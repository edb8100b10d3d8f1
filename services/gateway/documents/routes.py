"""Templates (uploaded .docx/.pptx, versioned by name) and the documents runs generate."""

import uuid
from typing import Any

from services.gateway.common.operations import (
    FIRST_ID,
    UNAUTHORIZED,
    Answer,
    Body,
    Operation,
    header,
    json,
    links_to,
    path,
    problem,
    query,
)
from services.gateway.documents import api, templates
from services.gateway.documents.schemas import (
    Document,
    DocumentList,
    Template,
    TemplateList,
    TemplateUpload,
)
from shared.documents.kinds import CONTENT_TYPES, PDF_TYPE

NOT_FOUND = {404: problem("Not found")}
#: A document is served with the content type it was stored with: an Office file, a PDF, or
#: whatever a signature node's source declared (any type: `*/*`).
FILE_TYPES: dict[str, Any] = {
    **{media_type: bytes for media_type in CONTENT_TYPES.values()},
    PDF_TYPE: bytes,
    "*/*": bytes,
}


def operations() -> list[Operation]:
    return [*_templates(), *_documents()]


def _templates() -> list[Operation]:
    prefix = templates.PREFIX
    return [
        Operation(
            "GET",
            prefix,
            templates.list_all,
            operation_id="listTemplates",
            summary="Templates, newest version each",
            responses={
                200: json(
                    "Templates", TemplateList, links_to(["getTemplate"], "template_id", FIRST_ID)
                ),
                **UNAUTHORIZED,
            },
        ),
        Operation(
            "POST",
            prefix,
            templates.upload,
            operation_id="uploadTemplate",
            summary="Upload a .docx/.pptx; an existing name gets a new version",
            body=Body(TemplateUpload, media_type="multipart/form-data"),
            responses={
                201: json(
                    "The template with the new version",
                    Template,
                    links_to(["getTemplate"], "template_id"),
                ),
                400: problem("A malformed multipart body"),
                413: problem("Larger than DOCFLOW_TEMPLATE_MAX_BYTES"),
                415: problem("Not multipart/form-data"),
                422: problem(
                    "Not a .docx/.pptx, a placeholder that does not parse, or a bad name; "
                    "`field` says"
                ),
                **UNAUTHORIZED,
            },
        ),
        Operation(
            "GET",
            f"{prefix}/{{template_id}}",
            templates.read,
            operation_id="getTemplate",
            summary="A template with all its versions",
            parameters=[path("template_id")],
            responses={200: json("The template", Template), **NOT_FOUND, **UNAUTHORIZED},
        ),
    ]


def _documents() -> list[Operation]:
    prefix = api.PREFIX
    document_id = path("document_id")
    return [
        Operation(
            "GET",
            prefix,
            api.list_for_execution,
            operation_id="listDocuments",
            summary="The documents of an execution",
            parameters=[query("execution_id", uuid.UUID, required=True)],
            responses={
                200: json(
                    "Documents",
                    DocumentList,
                    links_to(["getDocument", "getDocumentContent"], "document_id", FIRST_ID),
                ),
                **UNAUTHORIZED,
                422: problem("execution_id missing"),
            },
        ),
        Operation(
            "GET",
            f"{prefix}/{{document_id}}",
            api.read,
            operation_id="getDocument",
            summary="A document and its lineage",
            parameters=[document_id],
            responses={200: json("The document", Document), **UNAUTHORIZED, **NOT_FOUND},
        ),
        Operation(
            "GET",
            f"{prefix}/{{document_id}}/content",
            api.content,
            operation_id="getDocumentContent",
            summary="The document's bytes; `If-None-Match` with its ETag answers 304",
            parameters=[
                document_id,
                header("If-None-Match", str, "The ETag of the copy the client holds"),
            ],
            responses={
                200: Answer("The file, with the content type it was made with", FILE_TYPES),
                304: Answer("The client's copy is current (its ETag matched)"),
                409: problem("Not produced yet"),
                **UNAUTHORIZED,
                **NOT_FOUND,
            },
        ),
    ]

"""What the document and template routes take and answer, as the OpenAPI document shows it
(api.py and templates.py build the answers; these models describe them)."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from services.gateway.documents.templates import MAX_NAME


class TemplateRef(BaseModel):
    """{id, version} of a DocFlow template, or {drive_file_id}."""

    # Absent, not null, in the form not used.
    id: uuid.UUID | SkipJsonSchema[None] = None
    version: int | SkipJsonSchema[None] = None
    drive_file_id: str | SkipJsonSchema[None] = None


class Document(BaseModel):
    id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    name: str
    content_type: str
    #: `signed`: an e-signature request's signed file.
    variant: Literal["document", "pdf", "signed"]
    status: Literal["pending", "ready"]
    sha256: str | None
    size: int | None
    input_sha256: str
    template: TemplateRef | None
    derived_from: uuid.UUID | None
    provider_ids: dict[str, Any]
    links: dict[str, str]
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    items: list[Document]


class TemplateVersion(BaseModel):
    version: int
    filename: str
    content_type: str
    sha256: str
    size: int
    created_at: datetime


class Template(TemplateVersion):
    """The template; version fields describe its newest version."""

    id: uuid.UUID
    name: str
    kind: Literal["docx", "pptx"]
    updated_at: datetime
    versions: list[TemplateVersion]


class TemplateList(BaseModel):
    items: list[Template]


class TemplateUpload(BaseModel):
    """A multipart/form-data body; any other part is refused."""

    model_config = ConfigDict(extra="forbid")

    file: bytes = Field(description=".docx or .pptx")
    name: str | None = Field(
        default=None,
        max_length=MAX_NAME,
        description="Default: the file's name without extension",
    )

"""Configs of the document nodes: microsoft-word, microsoft-powerpoint, google-docs,
google-slides. String values may be Jinja templates over the context, rendered at run time."""

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.nodes.base import NodeConfig, RetryPolicy

#: Names every template already has (the context); `data` may not shadow them.
RESERVED_NAMES = frozenset(
    {"source", "nodes", "documents", "signatures", "approvals", "metadata", "execution"}
)
#: Provider calls and rendering are safe to repeat (the node reuses what it produced), so
#: transient provider trouble is retried by default.
DOCUMENT_DEFAULT_RETRY = RetryPolicy(max_attempts=3, initial_interval_seconds=2.0)


class GraphUpload(BaseModel):
    """Where a generated Office file also goes: OneDrive or a SharePoint library, via Graph."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: A `microsoft` connection.
    connection: str = Field(min_length=1)
    #: Folder under the drive's root (`Contracts/2026`); empty is the root. Templates allowed.
    folder: str = ""
    #: A SharePoint document library's drive id; default: the OneDrive of the connection's user.
    drive_id: str | None = Field(default=None, min_length=1)
    #: Also ask Graph for a PDF of the uploaded file and keep it as a second document.
    pdf: bool = False


class OfficeDocumentConfig(NodeConfig):
    #: A template uploaded to DocFlow, by name or id.
    template: str = Field(min_length=1)
    #: None: the template's newest version at run time.
    template_version: int | None = Field(default=None, ge=1)
    #: Name of the generated file; the extension is added when missing. Templates allowed.
    filename: str = Field(min_length=1, max_length=300)
    #: Extra names for the template (e.g. `{"customer": "{{ source.deal.company }}"}`),
    #: rendered first and added beside `source`, `nodes`, … .
    data: dict[str, Any] = Field(default_factory=dict)
    upload: GraphUpload | None = None

    @field_validator("data")
    @classmethod
    def _no_shadowing(cls, data: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(RESERVED_NAMES & data.keys())
        if clash:
            raise ValueError(f"{', '.join(clash)} already name parts of the context")
        return data


class MicrosoftWordConfig(OfficeDocumentConfig):
    """Fills a .docx template with docxtpl (placeholders, loops, conditionals)."""


class MicrosoftPowerPointConfig(OfficeDocumentConfig):
    """Fills a .pptx template: placeholders in text frames and tables, repeated table rows."""


class Replacement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The text between `{{` and `}}` in the Google file: `customer-name` replaces
    #: `{{customer-name}}`. Literal, never rendered.
    placeholder: str = Field(min_length=1, max_length=200, pattern=r"^[^{}]+$")
    #: What replaces it. Templates allowed; non-strings are written with str(), null as "".
    value: Any
    match_case: bool = True


class DocsReplacement(Replacement):
    #: Only in these tabs of the document (`tabsCriteria.tabIds`); default: every tab.
    tab_ids: list[str] | None = Field(default=None, min_length=1)


class SlidesReplacement(Replacement):
    #: Only on these slides (`pageObjectIds`); default: every slide.
    page_object_ids: list[str] | None = Field(default=None, min_length=1)


class GoogleFileConfig(NodeConfig):
    #: A `google` connection (service account).
    connection: str = Field(min_length=1)
    #: Drive file id of the Google Docs/Slides template. Templates allowed.
    template_file_id: str = Field(min_length=1)
    #: Name of the copy in Drive (the stored PDF is named after it). Templates allowed.
    name: str = Field(min_length=1, max_length=300)
    #: Drive folder for the copy; default: the connection's `folder_id`.
    folder_id: str | None = Field(default=None, min_length=1)
    #: Applied in order, one `replaceAllText` request each.
    replacements: Sequence[Replacement] = Field(min_length=1)


class GoogleDocsConfig(GoogleFileConfig):
    replacements: list[DocsReplacement] = Field(min_length=1)


class GoogleSlidesConfig(GoogleFileConfig):
    replacements: list[SlidesReplacement] = Field(min_length=1)

"""Templates and generated documents: bytes in the database, lineage beside them.

For other capabilities (e-mail attachments): `load_document(db, workspace_id, document_id)`
returns `(DocumentMeta, bytes)`; `documents_of_execution(db, workspace_id, execution_id)`
lists an execution's documents. `db` is an AsyncSession or an AsyncConnection.
"""

from shared.documents.errors import RenderError
from shared.documents.store import (
    DocumentMeta,
    DocumentNotReady,
    NewDocument,
    add_provider_copy,
    complete_document,
    documents_of_execution,
    find_document,
    load_document,
    read_document,
    save_document,
)
from shared.documents.templates import (
    ResolvedTemplate,
    TemplateInfo,
    TemplateVersionInfo,
    add_template_version,
    list_templates,
    read_template,
    template_content,
)

__all__ = [
    "DocumentMeta",
    "DocumentNotReady",
    "NewDocument",
    "RenderError",
    "ResolvedTemplate",
    "TemplateInfo",
    "TemplateVersionInfo",
    "add_provider_copy",
    "add_template_version",
    "complete_document",
    "documents_of_execution",
    "find_document",
    "list_templates",
    "load_document",
    "read_document",
    "read_template",
    "save_document",
    "template_content",
]

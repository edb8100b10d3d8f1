"""microsoft-word and microsoft-powerpoint: fill an uploaded template, keep the file as a
document of the execution, optionally publish it through Graph (and get a PDF back).

The document is looked up by the node's idempotency key and a hash of everything it is made
from before anything is rendered, and saved as soon as it is rendered: a re-run after a crash
reuses it, so there is never a second copy.
"""

import abc
import asyncio
from typing import Any, ClassVar

from services.executor.nodes.base import Failed, NodeCall, NodeResult, NodeType
from services.executor.nodes.documents_common import (
    as_result,
    documents_completed,
    engine_of,
    namespace,
)
from services.executor.nodes.graph_publish import publish
from shared.documents import (
    NewDocument,
    find_document,
    load_document,
    save_document,
    template_content,
)
from shared.documents.hashing import input_hash
from shared.documents.kinds import CONTENT_TYPES
from shared.nodes.documents import DOCUMENT_DEFAULT_RETRY, OfficeDocumentConfig
from shared.providers_http.paths import check_name, path_segments
from shared.template_budget import budgeted


class OfficeNode(NodeType):
    #: docx | pptx: the kind of template this node fills.
    kind: ClassVar[str]
    side_effects = True
    default_retry = DOCUMENT_DEFAULT_RETRY

    @abc.abstractmethod
    def fill(self, template: bytes, names: dict[str, Any]) -> bytes:
        """The filled file; CPU-bound, run in a thread."""

    async def run(self, call: NodeCall) -> NodeResult:
        return await as_result(self._run(call))

    async def _run(self, call: NodeCall) -> NodeResult:
        config = call.config
        assert isinstance(config, OfficeDocumentConfig)
        filename = _filename(str(call.render(config.filename)), self.kind)
        if filename is None:
            return Failed(f"filename must be a file name without folders, not {config.filename!r}")
        names = {**namespace(call), **call.render(config.data)}
        folder = str(call.render(config.upload.folder)) if config.upload else ""
        if config.upload is not None:
            # Checked before anything is made: a folder that climbs out fails the node at once.
            path_segments(folder, "upload.folder")
            check_name(filename, "filename")
        engine = engine_of(call)
        async with engine.connect() as conn:
            template, template_bytes = await template_content(
                conn, call.workspace_id, config.template, config.template_version
            )
        if template.kind != self.kind:
            return Failed(f"template {template.name!r} is a .{template.kind}, not a .{self.kind}")
        digest = input_hash(
            {
                "type": self.type_name,
                "template": [str(template.id), template.version, template.sha256],
                "filename": filename,
                "names": names,
            }
        )
        key = call.idempotency_key
        async with engine.connect() as conn:
            document = await find_document(conn, key, digest, "document")
        if document is None:
            # The thread runs with a copy of this context: the budget set here is the render's.
            settings = call.services.settings
            with budgeted(settings.template_budget_seconds, settings.template_budget_bytes):
                rendered = await asyncio.to_thread(self.fill, template_bytes, names)
            async with engine.begin() as conn:
                document = await save_document(
                    conn,
                    NewDocument(
                        workspace_id=call.workspace_id, execution_id=call.execution_id,
                        node_id=call.node_id, idempotency_key=key, input_sha256=digest,
                        variant="document", name=filename,
                        content_type=CONTENT_TYPES[self.kind], content=rendered, template=template,
                    ),
                )  # fmt: skip
        if config.upload is None:
            return documents_completed(call, document)
        saved = document

        async def content() -> bytes:
            # The saved bytes, which may be an earlier attempt's rendering, not this one's.
            async with engine.connect() as conn:
                return (await load_document(conn, call.workspace_id, saved.id))[1]

        document, pdf = await publish(call, document, content, config.upload, folder)
        return documents_completed(call, document, pdf)


def _filename(rendered: str, kind: str) -> str | None:
    name = rendered.strip()
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        return None
    return name if name.lower().endswith(f".{kind}") else f"{name}.{kind}"

"""google-docs and google-slides: copy a Drive template into a folder, replace its
placeholders with `replaceAllText`, export it as PDF; keep the PDF and the copy's link.

Progress is recorded as it happens: the copy's file id is saved (a pending document) right
after Drive made the copy, and the PDF completes that document. A re-run after a crash finds
the pending document and carries on with the same copy instead of making another.
"""

import abc
from typing import Any, ClassVar

from services.executor.nodes.base import NodeCall, NodeResult, NodeType
from services.executor.nodes.documents_common import (
    as_result,
    connection_of,
    documents_completed,
    engine_of,
)
from shared.connections.kinds import GoogleConnection
from shared.documents import NewDocument, complete_document, find_document, save_document
from shared.documents.hashing import input_hash
from shared.documents.kinds import PDF_TYPE
from shared.nodes.documents import DOCUMENT_DEFAULT_RETRY, GoogleFileConfig, Replacement
from shared.providers_http.google import DRIVE_SCOPE, GoogleApis, google_token
from shared.providers_http.paths import check_display_name
from shared.status import DocumentStatus


class GoogleFileNode(NodeType):
    #: OAuth scopes the node asks for besides Drive.
    scope: ClassVar[str]
    #: Where people open the copy, from its file id.
    link_format: ClassVar[str]
    side_effects = True
    default_retry = DOCUMENT_DEFAULT_RETRY

    @abc.abstractmethod
    def request(self, replacement: Any, text: str) -> dict[str, Any]:
        """One `replaceAllText` request for a rendered replacement."""

    @abc.abstractmethod
    async def batch_update(
        self, apis: GoogleApis, file_id: str, requests: list[dict[str, Any]]
    ) -> dict[str, Any]: ...

    async def run(self, call: NodeCall) -> NodeResult:
        return await as_result(self._run(call))

    async def _run(self, call: NodeCall) -> NodeResult:
        config = call.config
        assert isinstance(config, GoogleFileConfig)
        connection = await connection_of(call, config.connection, GoogleConnection)
        template_file_id = str(call.render(config.template_file_id))
        name = check_display_name(str(call.render(config.name)), "name")
        folder_id = config.folder_id or connection.folder_id
        requests = [self.request(r, _as_text(call.render(r.value))) for r in config.replacements]
        digest = input_hash(
            {
                "type": self.type_name,
                "template_file_id": template_file_id,
                "name": name,
                "folder_id": folder_id,
                "requests": requests,
            }
        )
        engine, key = engine_of(call), call.idempotency_key
        async with engine.connect() as conn:
            document = await find_document(conn, key, digest, "document")
        if document is not None and document.status == DocumentStatus.READY:
            return documents_completed(call, document)
        token = await google_token(call.services.http, connection, [DRIVE_SCOPE, self.scope])
        apis = GoogleApis(call.services.http, connection, token)
        if document is None:
            copy = await apis.copy(template_file_id, name, folder_id)
            file_id = str(copy["id"])
            async with engine.begin() as conn:
                document = await save_document(
                    conn,
                    NewDocument(
                        workspace_id=call.workspace_id, execution_id=call.execution_id,
                        node_id=call.node_id, idempotency_key=key, input_sha256=digest,
                        variant="document", name=f"{name}.pdf", content_type=PDF_TYPE,
                        template_file_id=template_file_id,
                        provider_ids={"google": {"file_id": file_id, "folder_id": folder_id}},
                        links={"web": self.link_format.format(id=file_id)},
                    ),
                )  # fmt: skip
        file_id = document.provider_ids["google"]["file_id"]
        # Replacing again is harmless: placeholders replaced by the first attempt are gone.
        await self.batch_update(apis, file_id, requests)
        pdf = await apis.export_pdf(file_id)
        async with engine.begin() as conn:
            document = await complete_document(conn, document.id, pdf)
        return documents_completed(call, document)


def contains_text(replacement: Replacement) -> dict[str, Any]:
    return {"text": "{{" + replacement.placeholder + "}}", "matchCase": replacement.match_case}


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)

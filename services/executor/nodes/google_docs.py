"""google-docs: a Google Docs template copied, filled with replaceAllText, exported as PDF."""

from typing import Any, ClassVar

from services.executor.nodes.google_files import GoogleFileNode, contains_text
from shared.nodes.documents import DocsReplacement, GoogleDocsConfig
from shared.providers_http.google import DOCS_SCOPE, GoogleApis


class GoogleDocsNode(GoogleFileNode):
    type_name: ClassVar[str] = "google-docs"
    config_model = GoogleDocsConfig
    scope = DOCS_SCOPE
    link_format = "https://docs.google.com/document/d/{id}/edit"

    def request(self, replacement: Any, text: str) -> dict[str, Any]:
        assert isinstance(replacement, DocsReplacement)
        body: dict[str, Any] = {"containsText": contains_text(replacement), "replaceText": text}
        if replacement.tab_ids:
            body["tabsCriteria"] = {"tabIds": list(replacement.tab_ids)}
        return {"replaceAllText": body}

    async def batch_update(
        self, apis: GoogleApis, file_id: str, requests: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return await apis.batch_update_document(file_id, requests)

"""google-slides: a Google Slides template copied, filled with replaceAllText, exported as PDF."""

from typing import Any, ClassVar

from services.executor.nodes.google_files import GoogleFileNode, contains_text
from shared.nodes.documents import GoogleSlidesConfig, SlidesReplacement
from shared.providers_http.google import SLIDES_SCOPE, GoogleApis


class GoogleSlidesNode(GoogleFileNode):
    type_name: ClassVar[str] = "google-slides"
    config_model = GoogleSlidesConfig
    scope = SLIDES_SCOPE
    link_format = "https://docs.google.com/presentation/d/{id}/edit"

    def request(self, replacement: Any, text: str) -> dict[str, Any]:
        assert isinstance(replacement, SlidesReplacement)
        body: dict[str, Any] = {"containsText": contains_text(replacement), "replaceText": text}
        if replacement.page_object_ids:
            body["pageObjectIds"] = list(replacement.page_object_ids)
        return {"replaceAllText": body}

    async def batch_update(
        self, apis: GoogleApis, file_id: str, requests: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return await apis.batch_update_presentation(file_id, requests)

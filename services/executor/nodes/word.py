"""microsoft-word: a .docx template filled by docxtpl."""

from typing import Any, ClassVar

from services.executor.nodes.office import OfficeNode
from shared.documents.kinds import DOCX
from shared.documents.render_docx import render_docx
from shared.nodes.documents import MicrosoftWordConfig


class WordNode(OfficeNode):
    type_name: ClassVar[str] = "microsoft-word"
    config_model = MicrosoftWordConfig
    kind = DOCX

    def fill(self, template: bytes, names: dict[str, Any]) -> bytes:
        return render_docx(template, names)

"""microsoft-powerpoint: a .pptx template filled with python-pptx."""

from typing import Any, ClassVar

from services.executor.nodes.office import OfficeNode
from shared.documents.kinds import PPTX
from shared.documents.render_pptx import render_pptx
from shared.nodes.documents import MicrosoftPowerPointConfig


class PowerPointNode(OfficeNode):
    type_name: ClassVar[str] = "microsoft-powerpoint"
    config_model = MicrosoftPowerPointConfig
    kind = PPTX

    def fill(self, template: bytes, names: dict[str, Any]) -> bytes:
        return render_pptx(template, names)

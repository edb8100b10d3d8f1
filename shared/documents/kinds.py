"""What a template file is: .docx or .pptx, told from its name and checked in its bytes."""

import io
import zipfile
from typing import Final

from shared.errors import InvalidInput

DOCX: Final = "docx"
PPTX: Final = "pptx"
PDF_TYPE: Final = "application/pdf"

CONTENT_TYPES: Final = {
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
#: The main part's content type, as `[Content_Types].xml` declares it in each kind of package.
_MAIN_PARTS: Final = {
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}


def kind_of(filename: str, data: bytes, field: str = "file") -> str:
    """`docx` or `pptx`; InvalidInput naming `field` when the name or the bytes say otherwise.

    Only the package's table of contents is read: enough to refuse a renamed PDF or a macro
    document (.docm declares another main type) without parsing the whole file.
    """
    kind = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if kind not in CONTENT_TYPES:
        raise InvalidInput([{"field": field, "message": "must be a .docx or .pptx file"}])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            types = package.read("[Content_Types].xml").decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        message = f"is not a valid .{kind} package ({type(e).__name__})"
        raise InvalidInput([{"field": field, "message": message}]) from e
    if _MAIN_PARTS[kind] not in types:
        raise InvalidInput([{"field": field, "message": f"is not a .{kind} document"}])
    return kind

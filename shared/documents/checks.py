"""Save-time checks of a template's placeholders, so a syntax error is refused at upload
(422 naming the file) instead of failing a run later."""

import io
import re

from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pptx import Presentation

from shared.documents.kinds import DOCX
from shared.errors import InvalidInput, TemplateError
from shared.templating import check_syntax

_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)


def check_template(kind: str, data: bytes) -> None:
    """CPU-bound; call it in a thread. InvalidInput naming `file` when a placeholder of the
    template does not parse (docxtpl's tags for .docx, `{{ expression }}` for .pptx)."""
    try:
        if kind == DOCX:
            _check_docx(data)
        else:
            _check_pptx(data)
    except (TemplateSyntaxError, TemplateError) as e:
        message = e.message if isinstance(e, TemplateSyntaxError) else str(e)
        raise _refused(f"a placeholder does not parse: {message}") from e
    except InvalidInput:
        raise
    except Exception as e:  # whatever python-docx / python-pptx choke on in a broken package
        raise _refused(f"is not a readable .{kind} document ({type(e).__name__})") from e


def _check_docx(data: bytes) -> None:
    DocxTemplate(io.BytesIO(data)).get_undeclared_template_variables(SandboxedEnvironment())


def _check_pptx(data: bytes) -> None:
    presentation = Presentation(io.BytesIO(data))
    for slide in presentation.slides:
        for paragraph in slide.element.iter("{*}p"):
            text = "".join(t.text or "" for t in paragraph.iter("{*}t"))
            for placeholder in _PLACEHOLDER.findall(text):
                check_syntax(placeholder)


def _refused(message: str) -> InvalidInput:
    return InvalidInput([{"field": "file", "message": message}])

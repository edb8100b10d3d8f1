"""Filling a .docx template with docxtpl: Jinja placeholders, loops (`{%tr for %}` rows,
`{%p for %}` paragraphs) and conditionals, in the template's own runs, so formatting stays."""

import io
from typing import Any

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from shared.documents.errors import RenderError


def render_docx(template: bytes, context: dict[str, Any]) -> bytes:
    """CPU-bound; call it in a thread. Raises RenderError with the template's own words."""
    document = DocxTemplate(io.BytesIO(template))
    # Templates are uploaded by users: sandboxed like every other template in DocFlow, strict
    # so a missing value fails the node instead of leaving a blank in a contract, and
    # autoescaped because values land inside XML (a "&" in a name would break the file).
    environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
    try:
        document.render(context, jinja_env=environment, autoescape=True)
    except TemplateSyntaxError as e:
        raise RenderError(f"the template does not parse: {e.message} (line {e.lineno})") from e
    except UndefinedError as e:
        raise RenderError(f"the template uses a value the context lacks: {e.message}") from e
    except TemplateError as e:
        raise RenderError(f"the template failed: {e}") from e
    except (TypeError, ValueError, ArithmeticError) as e:
        raise RenderError(f"the template failed: {type(e).__name__}: {e}") from e
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()

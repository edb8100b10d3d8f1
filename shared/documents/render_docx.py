"""Filling a .docx template with docxtpl: Jinja placeholders, loops (`{%tr for %}` rows,
`{%p for %}` paragraphs) and conditionals, in the template's own runs, so formatting stays."""

import io
from typing import Any

from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError

from shared.documents.errors import RenderError
from shared.template_budget import BudgetedSandbox, TemplateBudgetExceeded, within_a_budget


def render_docx(template: bytes, context: dict[str, Any]) -> bytes:
    """CPU-bound; call it in a thread. Raises RenderError with the template's own words. The
    render runs under the template budget in force (the node's: `budgeted()` around the
    thread), as every other template does."""
    document = DocxTemplate(io.BytesIO(template))
    # Templates are uploaded by users: sandboxed like every other template in DocFlow, strict
    # so a missing value fails the node instead of leaving a blank in a contract, and
    # autoescaped because values land inside XML (a "&" in a name would break the file).
    environment = BudgetedSandbox(undefined=StrictUndefined, autoescape=True)
    try:
        with within_a_budget():
            document.render(context, jinja_env=environment, autoescape=True)
    except TemplateBudgetExceeded as e:
        raise RenderError(f"template exceeded its budget: {e}") from e
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

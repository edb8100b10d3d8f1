"""What an e-mail node sends, rendered from its config: addresses, subject, bodies, and the
attachments picked from the execution's documents."""

import html
import re
import uuid
from email.utils import getaddresses
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, UndefinedError
from jinja2 import TemplateError as JinjaError

from services.executor.nodes.base import NodeCall
from shared.errors import DocflowError, TemplateError
from shared.messages import EmailAttachment
from shared.nodes.email import AttachmentChoice, EmailConfig
from shared.providers_http.paths import UnsafePath, check_name
from shared.template_budget import (
    BudgetedSandbox,
    TemplateBudgetExceeded,
    budgeted,
    render_text,
)

_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


class BadEmail(DocflowError):
    """The config rendered to something no server would take (no address, unknown document)."""


@lru_cache(maxsize=1)
def _html_environment() -> BudgetedSandbox:
    # Separate from the config templates: here values are escaped, as HTML needs.
    return BudgetedSandbox(undefined=StrictUndefined, autoescape=True)


def render_html(source: str, call: NodeCall) -> str:
    namespace = call.namespace()
    settings = call.services.settings
    try:
        with budgeted(settings.template_budget_seconds, settings.template_budget_bytes):
            return render_text(_html_environment().from_string(source), namespace)
    except TemplateBudgetExceeded as e:
        raise TemplateError(f"template exceeded its budget: {e}, in the html body") from e
    except RecursionError as e:
        raise TemplateError("template exceeded its budget: the html body recursed too deep") from e
    except UndefinedError as e:
        raise TemplateError(f"{e.message} in the html body") from e
    except JinjaError as e:
        raise TemplateError(f"html body: {e}") from e


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3"):
            self.parts.append("\n")
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.parts.append(f" {href} ")


def text_of(markup: str) -> str:
    """A plain-text part for an HTML-only e-mail, links kept."""
    parser = _Text()
    parser.feed(markup)
    text = html.unescape("".join(parser.parts))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def addresses(call: NodeCall, templates: list[str], field: str) -> list[str]:
    found: list[str] = []
    for template in templates:
        value = call.render(template)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                raise BadEmail(f"{field}: {item!r} is not an e-mail address")
            for _, address in getaddresses([item]):
                if not _ADDRESS.match(address):
                    raise BadEmail(f"{field}: {item!r} is not an e-mail address")
                found.append(address)
    return list(dict.fromkeys(found))


def attachments(
    call: NodeCall, config: EmailConfig
) -> list[tuple[EmailAttachment, dict[str, Any]]]:
    """Each chosen document with its `generated_documents` entry; only this execution's."""
    documents = call.context.generated_documents
    chosen: list[tuple[EmailAttachment, dict[str, Any]]] = []
    for index, choice in enumerate(config.attachments):
        for entry in _pick(call, choice, documents, index):
            filename = str(call.render(choice.filename)) if choice.filename else None
            if filename is not None:
                try:
                    check_name(filename, f"attachments[{index}].filename", reserved=frozenset("\\"))
                except UnsafePath as e:
                    raise BadEmail(str(e)) from e
            attachment = EmailAttachment(document_id=uuid.UUID(entry["id"]), filename=filename)
            chosen.append((attachment, entry))
    return chosen


def _pick(
    call: NodeCall, choice: AttachmentChoice, documents: list[dict[str, Any]], index: int
) -> list[dict[str, Any]]:
    where = f"attachments[{index}]"
    if choice.node is not None:
        picked = [
            d
            for d in documents
            if d.get("node_id") == choice.node and d.get("variant", "document") == choice.variant
        ]
        if not picked:
            raise BadEmail(f"{where}: node {choice.node!r} made no {choice.variant} in this run")
        return picked
    wanted = str(call.render(choice.document))
    picked = [d for d in documents if d.get("id") == wanted]
    if not picked:
        raise BadEmail(f"{where}: {wanted!r} is not a document of this execution")
    return picked

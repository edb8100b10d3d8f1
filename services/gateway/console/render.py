"""Console pages: Jinja2 templates rendered to HTML answers under a strict CSP.

Scripts and styles come only from the console's own static route; SVG presentation
attributes (the timeline's bars) need no inline style.
"""

from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
from aiohttp import web

from services.gateway.common.iso import iso
from services.gateway.console.timeline import duration
from services.gateway.keys import SIGNED_IN

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
}


@lru_cache(maxsize=1)
def templates() -> jinja2.Environment:
    # Built on first use, not at import time; every value is escaped.
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("services.gateway.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["duration"] = duration
    return environment


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def page(request: web.Request, template: str, *, status: int = 200, **values: Any) -> web.Response:
    values.setdefault("me", request.get(SIGNED_IN))
    values.setdefault("iso", iso)
    values.setdefault("flash", flash(request.query.get("done", "")))
    return html(templates().get_template(template).render(values), status=status)


#: What a page says after the action that redirected to it (`?done=<action>[:<gate>]`).
FLASHES = {
    "retry": "Retry requested: the run continues from the node that failed.",
    "cancel": "Cancel requested.",
    "run": "Run queued.",
    "extend": "Deadline extended",
    "resend": "New links sent",
    "reassign": "Approver replaced",
}


def flash(done: str) -> str:
    action, _, gate = done.partition(":")
    text = FLASHES.get(action, "")
    return f"{text} on gate {gate}." if text and gate else text


def html(text: str, *, status: int = 200) -> web.Response:
    response = web.Response(status=status, text=text, content_type="text/html", charset="utf-8")
    response.headers.update(SECURITY_HEADERS)
    return response


def see_other(location: str) -> web.Response:
    """After a POST, the page to show: a reload does not post again."""
    response = web.Response(status=303, headers={"Location": location})
    response.headers.update(SECURITY_HEADERS)
    return response

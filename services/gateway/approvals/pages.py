"""`/approve/{token}`: the approver's page. GET and HEAD only show; POST decides.

Mail scanners and link previews fetch links, so nothing but a POST carrying the page's CSRF
value (double-submit: a SameSite=Strict cookie and a form field that must match) records a
decision. Pages are plain server-rendered HTML with no external assets.
"""

import hmac
import re
import secrets
from functools import lru_cache
from typing import Any

import jinja2
import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from services.gateway.approvals import decisions
from services.gateway.approvals.decisions import ByLink, Found, Refusal
from services.gateway.common.problems import RETRY_AFTER_SECONDS
from services.gateway.common.resume_publish import Unconfirmed, publish_then_flush
from services.gateway.keys import RESOURCES
from shared.approval_gates import GateView
from shared.db.types import utcnow
from shared.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

CSRF_COOKIE = "docflow_csrf"
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_DECISIONS = {"approve": "approved", "reject": "rejected"}

#: Why a link does not open the form: (HTTP status, heading, text).
_REFUSALS = {
    Refusal.UNKNOWN: (
        404,
        "This link is not valid",
        "Check that the whole link was copied from the e-mail.",
    ),
    Refusal.REPLACED: (
        410,
        "This link was replaced",
        "A newer link was sent to you; please use the most recent e-mail.",
    ),
    Refusal.USED: (410, "This link was already used", "Your decision was recorded before."),
    Refusal.EXPIRED: (
        410,
        "This request has expired",
        "The deadline for this approval has passed; the link no longer works.",
    ),
    Refusal.CLOSED: (
        410,
        "Your decision is no longer needed",
        "This approval request was withdrawn or given to someone else.",
    ),
    Refusal.CONFLICT: (
        409,
        "Already decided",
        "A decision for this link was recorded a moment ago, from another request.",
    ),
}


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    # Built on first use, not at import time; every page is escaped.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("services.gateway.approvals", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _html(status: int, template: str, **values: Any) -> web.Response:
    response = web.Response(
        status=status,
        text=_templates().get_template(template).render(values),
        content_type="text/html",
        charset="utf-8",
    )
    # The token is in the URL: it must not leak through caches, referrers or frames.
    response.headers.update(
        {
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex, nofollow",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
        }
    )
    return response


def _result(
    status: int, heading: str, text: str, gate: GateView | None = None, note: str = ""
) -> web.Response:
    return _html(
        status, "approval_result.html.j2", heading=heading, text=text, gate=gate, note=note
    )


def _busy() -> web.Response:
    """The database could not be reached even after a few tries: nothing was recorded, and
    the approver is told so and when to try again (not a 500, which reads as "broken")."""
    return _try_again_later(
        "Please try again in a moment",
        "We are very busy and could not record your decision just now: nothing was recorded. "
        "Go back and press your button again in a few seconds.",
    )


def _unconfirmed() -> web.Response:
    """The decision was recorded, but the database did not confirm it is on disk."""
    return _try_again_later(
        "Please check again in a moment",
        "Your decision was received, but we could not confirm just now that it was saved. "
        "Open your link again in a few seconds: it shows whether your decision was recorded.",
    )


def _try_again_later(heading: str, text: str) -> web.Response:
    response = _result(503, heading, text)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _refused(refusal: Refusal, gate: GateView | None = None) -> web.Response:
    status, heading, text = _REFUSALS[refusal]
    return _result(status, heading, text, gate)


def needed_text(gate: GateView) -> str:
    required, total = gate.rule.get("required", 1), len(gate.peers)
    strategy = gate.rule.get("strategy")
    if strategy == "any":
        return f"Any one of the {total} approvers can approve."
    if strategy == "all":
        return f"All {total} approvers must approve."
    return f"{required} of the {total} approvers must approve."


async def show(request: web.Request) -> web.Response:
    """GET and HEAD: the page, or why the link no longer opens it. Never decides."""
    token = request.match_info["token"]
    found = await _find(request, token)
    if isinstance(found, web.Response):
        return found
    if found.refusal is not None:
        return _refused(found.refusal, found.gate)
    csrf = request.cookies.get(CSRF_COOKIE, "")
    if not _TOKEN_SHAPE.match(csrf):
        csrf = secrets.token_urlsafe(32)
    response = _html(
        200,
        "approval_page.html.j2",
        gate=found.gate,
        rule=found.gate.rule,
        needed=needed_text(found.gate),
        csrf=csrf,
        max_comment=decisions.MAX_COMMENT_CHARS,
    )
    settings = request.app[RESOURCES].settings
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        path="/approve/",
        httponly=True,
        samesite="Strict",
        secure=settings.public_url.startswith("https://"),
    )
    return response


async def decide(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not _TOKEN_SHAPE.match(token):
        return _refused(Refusal.UNKNOWN)
    try:
        form = await request.post()
    except (ValueError, LookupError, HttpProcessingError):
        # A body its own Content-Type does not describe (multipart without a boundary, an
        # unknown charset): no browser sends one, and nothing can be read from it.
        return _result(400, "Nothing was recorded", "The form could not be read; try again.")
    sent, cookie = str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")
    if not (sent and cookie and hmac.compare_digest(sent.encode(), cookie.encode())):
        return _result(
            403,
            "Please open the page again",
            "Your decision was not recorded: the form had expired or did not come from the "
            "approval page. Open the link from the e-mail and decide again.",
        )
    decision = _DECISIONS.get(str(form.get("decision", "")))
    comment = str(form.get("comment", "")).strip()
    if decision is None or len(comment) > decisions.MAX_COMMENT_CHARS:
        return _result(400, "Nothing was recorded", "Choose Approve or Reject and try again.")
    resources = request.app[RESOURCES]
    try:
        outcome = await decisions.record(
            resources.sessions,
            ByLink(token),
            decision=decision,
            comment=comment,
            client_ip=request.remote,
            user_agent=request.headers.get("User-Agent"),
            now=utcnow(),
        )
        staged = None if isinstance(outcome, Refusal) else outcome.staged
        await publish_then_flush(request, staged, name="publish-approval-resume")
    except Unconfirmed:
        log.warning("approval_recorded_unconfirmed")
        return _unconfirmed()
    except DatabaseUnavailable:
        log.warning("approval_not_recorded_database_unavailable")
        return _busy()
    if isinstance(outcome, Refusal):
        return _refused(outcome)
    log.info("approval_recorded", decision=decision, late=outcome.late)
    note = (
        "The request had already been decided, so your answer was recorded but did not change "
        "the outcome."
        if outcome.late
        else ""
    )
    return _result(200, "Thank you", f"Your decision was recorded: {decision}.", note=note)


async def _find(request: web.Request, token: str) -> Found | web.Response:
    if not _TOKEN_SHAPE.match(token):
        return _refused(Refusal.UNKNOWN)
    try:
        found = await decisions.find(request.app[RESOURCES].sessions, token, utcnow())
    except DatabaseUnavailable:
        return _busy()
    if found is None:
        return _refused(Refusal.UNKNOWN)
    return found

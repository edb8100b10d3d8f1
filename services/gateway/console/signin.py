"""Signing in with an API key, and out.

The sign-in form has no session yet, so its CSRF value is a double-submit pair (a
SameSite=Strict cookie and a form field that must match), as on the approval page: another
site cannot sign a browser into the attacker's workspace.
"""

import hmac
import re
import secrets
from datetime import timedelta

import structlog
from aiohttp import web

from services.gateway.console.guard import PREFIX, SIGN_IN
from services.gateway.console.render import page, see_other
from services.gateway.console.sessions import COOKIE, sign_in, sign_out
from services.gateway.keys import RESOURCES, SIGNED_IN
from shared.db.types import utcnow

log = structlog.get_logger(__name__)

FORM_COOKIE = "docflow_console_form"
_CSRF_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
#: Where a sign-in may send the browser next: a console page of this site, nothing else.
_NEXT_SHAPE = re.compile(r"^/console(/[A-Za-z0-9/_.%?=&:-]*)?$")


def _secure(request: web.Request) -> bool:
    return request.app[RESOURCES].settings.public_url.startswith("https://")


def _next(raw: str) -> str:
    return raw if _NEXT_SHAPE.match(raw) and "//" not in raw else PREFIX


async def form(request: web.Request) -> web.Response:
    return _form(request, status=200, error="")


def _form(request: web.Request, *, status: int, error: str) -> web.Response:
    csrf = request.cookies.get(FORM_COOKIE, "")
    if not _CSRF_SHAPE.match(csrf):
        csrf = secrets.token_urlsafe(32)
    response = page(
        request,
        "sign_in.html.j2",
        status=status,
        csrf=csrf,
        error=error,
        next=_next(request.query.get("next", "")),
        me=None,
    )
    response.set_cookie(
        FORM_COOKIE,
        csrf,
        path=SIGN_IN,
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
    return response


async def submit(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    sent, cookie = str(posted.get("csrf", "")), request.cookies.get(FORM_COOKIE, "")
    if not (sent and cookie and hmac.compare_digest(sent.encode(), cookie.encode())):
        return _form(request, status=403, error="The form had expired; please try again.")
    settings = request.app[RESOURCES].settings
    token = await sign_in(
        request.app[RESOURCES].sessions,
        str(posted.get("api_key", "")),
        now=utcnow(),
        lifetime=timedelta(seconds=settings.console_session_seconds),
    )
    if token is None:
        log.info("console_sign_in_refused")
        return _form(
            request, status=401, error="That API key is not valid (unknown, revoked or expired)."
        )
    log.info("console_signed_in")
    response = see_other(_next(str(posted.get("next", ""))))
    response.set_cookie(
        COOKIE,
        token,
        path="/",
        max_age=int(settings.console_session_seconds),
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
    response.del_cookie(FORM_COOKIE, path=SIGN_IN)
    return response


async def leave(request: web.Request) -> web.StreamResponse:
    """Behind the guard: the session is live and the CSRF value matched."""
    await sign_out(request.app[RESOURCES].sessions, request[SIGNED_IN].session_id, now=utcnow())
    log.info("console_signed_out")
    response = see_other(SIGN_IN)
    response.del_cookie(COOKIE, path="/")
    return response

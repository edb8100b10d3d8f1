"""What every console route passes through: a live session, the CSRF value on a POST, and
errors as pages instead of problem documents.

Without a session a page redirects to the sign-in form (a fragment fetched by a script gets
401, since a redirect would swap the sign-in form into the page); a POST without the form's
CSRF value changes nothing and gets 403.
"""

import functools
import hmac
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler

from services.gateway.common.problems import Problem
from services.gateway.console.render import page, see_other
from services.gateway.console.sessions import COOKIE, look_up
from services.gateway.keys import RESOURCES, SIGNED_IN, WORKSPACE
from shared.db.types import utcnow
from shared.errors import NotFound
from shared.logging import log_context

PREFIX = "/console"
SIGN_IN = f"{PREFIX}/sign-in"
#: Marks requests for a piece of a page (fetched by console.js), answered 401 not 303.
FRAGMENT_HEADER = "X-Console-Fragment"


def signed_in(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        now = utcnow()
        found = await look_up(
            request.app[RESOURCES].sessions, request.cookies.get(COOKIE, ""), now=now
        )
        if found is None:
            return _signed_out(request)
        if request.method == "POST":
            form = await request.post()
            sent = str(form.get("csrf", ""))
            if not (sent and hmac.compare_digest(sent.encode(), found.csrf.encode())):
                return page(
                    request,
                    "message.html.j2",
                    status=403,
                    heading="Nothing was changed",
                    text="The form had expired or did not come from the console. "
                    "Go back, reload the page and try again.",
                )
        request[SIGNED_IN] = found
        request[WORKSPACE] = found.workspace_id
        with log_context(workspace_id=str(found.workspace_id)):
            try:
                return await handler(request)
            except NotFound:
                return not_found(request)
            except Problem as e:
                if e.status != 404:
                    raise
                return not_found(request)

    return guarded


def not_found(request: web.Request) -> web.Response:
    return page(
        request,
        "message.html.j2",
        status=404,
        heading="Not found",
        text="There is nothing at this address in your workspace.",
    )


def _signed_out(request: web.Request) -> web.Response:
    if request.method != "GET" or request.headers.get(FRAGMENT_HEADER):
        return page(
            request,
            "message.html.j2",
            status=401,
            heading="Please sign in",
            text="Your console session has ended or was never started.",
        )
    target = request.path_qs if request.path != PREFIX else ""
    location = SIGN_IN + (f"?next={quote(target, safe='')}" if target else "")
    return see_other(location)

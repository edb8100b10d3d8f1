"""API-key authentication: every `/api/v1` route but the public ones needs `Bearer <key>`.

The execution event stream also takes the operator console's session cookie instead: a
browser's EventSource cannot send an Authorization header. (Console pages check their session
themselves, in console/guard.py.)"""

from aiohttp import web
from aiohttp.typedefs import Handler

from services.gateway.common.problems import Problem
from services.gateway.common.rate_limits import check_api_key
from services.gateway.common.routing import API_PREFIX, route_template
from services.gateway.console.sessions import COOKIE, workspace_of_cookie
from services.gateway.keys import API_KEYS, RESOURCES, WORKSPACE
from shared.api_keys import hash_key
from shared.db.types import utcnow
from shared.logging import log_context

__all__ = ["API_PREFIX", "PUBLIC_ROUTES", "key_hash_of", "needs_key", "require_api_key"]
#: Routes under the API prefix that anyone may read.
PUBLIC_ROUTES = frozenset(
    {
        f"{API_PREFIX}/openapi.json",
        # Signed by the provider (ClickSign) or carrying its configured secret (ZapSign).
        f"{API_PREFIX}/webhooks/signature/{{provider}}",
        f"{API_PREFIX}/webhooks/signature/{{provider}}/{{connection_id}}",
        # Signed by the sender instead (HubSpot v3, Standard Webhooks).
        f"{API_PREFIX}/webhooks/hubspot/{{workspace_id}}",
        f"{API_PREFIX}/hooks/{{workflow_id}}",
        # The resume token in the path is the credential.
        f"{API_PREFIX}/resume/{{execution_id}}/{{node_id}}/{{token}}",
    }
)

#: Routes a console session may read without a key: GET only, so no CSRF value is needed
#: (the cookie is SameSite=Strict besides).
SESSION_ROUTES = frozenset({f"{API_PREFIX}/executions/{{execution_id}}/events"})

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="docflow"'}


def needs_key(template: str | None) -> bool:
    # Unmatched paths need no key: they are answered with 404 or 405 alike.
    return (
        template is not None
        and template.startswith(API_PREFIX + "/")
        and template not in PUBLIC_ROUTES
    )


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    template = route_template(request)
    if not needs_key(template):
        return await handler(request)
    raw_key = _bearer_token(request.headers.get("Authorization", ""))
    workspace_id = None
    if raw_key:
        workspace_id = await request.app[API_KEYS].workspace_of(raw_key)
    elif template in SESSION_ROUTES and request.method in ("GET", "HEAD"):
        workspace_id = await workspace_of_cookie(
            request.app[RESOURCES].sessions, request.cookies.get(COOKIE), now=utcnow()
        )
        if workspace_id is not None:
            request[WORKSPACE] = workspace_id
            with log_context(workspace_id=str(workspace_id)):
                return await handler(request)
    if workspace_id is None or raw_key is None:
        detail = "a valid API key is required: Authorization: Bearer <key>"
        raise Problem(401, "unauthorized", detail, headers=_CHALLENGE)
    check_api_key(request, raw_key)
    request[WORKSPACE] = workspace_id
    with log_context(workspace_id=str(workspace_id)):
        return await handler(request)


def key_hash_of(request: web.Request) -> str:
    """The hash of the key a request was let in with (only after `require_api_key`)."""
    raw_key = _bearer_token(request.headers.get("Authorization", ""))
    assert raw_key is not None
    return hash_key(raw_key)


def _bearer_token(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()

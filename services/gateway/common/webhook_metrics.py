"""Counting inbound webhooks at the edge, by provider and outcome, from the route and status.

Webhook handlers need no metric calls: a route under one of WEBHOOK_PREFIXES is a webhook, its
`{provider}` path parameter (or its fixed last segment) names the provider, and the answer's
status says what happened. A handler may still name a finer outcome (e.g. `duplicate`) by
setting `request[WEBHOOK_OUTCOME]`.
"""

from aiohttp import web

from services.gateway.common.routing import API_PREFIX
from shared.esign.webhooks import PROVIDERS

WEBHOOK_PREFIXES = (f"{API_PREFIX}/webhooks/", f"{API_PREFIX}/hooks/")
#: The provider label of generic per-workflow webhooks (`/hooks/{workflow_id}`).
GENERIC_PROVIDER = "webhook"
WEBHOOK_OUTCOME = web.RequestKey("webhook_outcome", str)


def webhook_provider(request: web.Request, template: str | None) -> str | None:
    """The provider label, or None when the request is not a webhook.

    `/webhooks/signature/{provider}` → the parameter; `/webhooks/hubspot/{workspace_id}` → its
    last fixed segment; `/hooks/{workflow_id}` → GENERIC_PROVIDER.
    """
    prefix = next((p for p in WEBHOOK_PREFIXES if template and template.startswith(p)), None)
    if template is None or prefix is None:
        return None
    if "provider" in request.match_info:
        # Labels never come from the URL: an unknown provider (a 404) counts in no series.
        provider = request.match_info["provider"]
        return provider if provider in PROVIDERS else None
    fixed = [part for part in template[len(prefix) :].split("/") if part and part[0] != "{"]
    return fixed[-1] if fixed else GENERIC_PROVIDER


def webhook_outcome(request: web.Request, status: int) -> str:
    if WEBHOOK_OUTCOME in request:
        return request[WEBHOOK_OUTCOME]
    if status < 300:
        return "accepted"
    if status in (401, 403):
        return "rejected"
    return "invalid" if status < 500 else "error"

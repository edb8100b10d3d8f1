"""Microsoft identity platform: an app-only Graph token by the client-credentials grant.

Used by every Graph caller (OneDrive uploads here, Outlook sendMail in the e-mail nodes).
"""

import aiohttp

from shared.connections.kinds import MicrosoftConnection
from shared.providers_http.errors import ProviderError, raise_for_answer, unreachable

#: App-only tokens ask for the permissions granted to the app, as one `/.default` scope.
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def token_url(connection: MicrosoftConnection) -> str:
    return f"{connection.login_base_url.rstrip('/')}/{connection.tenant_id}/oauth2/v2.0/token"


async def graph_token(http: aiohttp.ClientSession, connection: MicrosoftConnection) -> str:
    """POST {login}/{tenant}/oauth2/v2.0/token (form: client_id, scope, client_secret,
    grant_type=client_credentials) → `access_token`. Fetched per use: a node run needs one."""
    form = {
        "client_id": connection.client_id,
        "scope": GRAPH_SCOPE,
        "client_secret": connection.client_secret,
        "grant_type": "client_credentials",
    }
    what = "Microsoft token endpoint"
    try:
        async with http.post(token_url(connection), data=form) as response:
            await raise_for_answer(response, what)
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as e:
        raise unreachable(what, e) from e
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ProviderError(f"{what} answered without an access_token", retryable=False)
    return token

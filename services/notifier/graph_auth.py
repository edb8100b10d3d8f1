"""Client-credentials tokens for Microsoft Graph, kept per tenant and app until they expire."""

import time
from dataclasses import dataclass

import aiohttp

from services.notifier.errors import PermanentDeliveryError, TransientDeliveryError
from shared.connections.kinds import MicrosoftConnection
from shared.egress import failure_reason, is_refusal

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: A token is renewed this long before Azure AD says it expires.
EXPIRY_MARGIN_SECONDS = 120.0
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float


class GraphTokens:
    """One cache per notifier; a connection's token is fetched once and reused until near its
    expiry, or dropped at once when Graph refuses it (401)."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self._http = http
        self._tokens: dict[tuple[str, str, str], _Token] = {}

    @staticmethod
    def _key(connection: MicrosoftConnection) -> tuple[str, str, str]:
        return (connection.login_base_url, connection.tenant_id, connection.client_id)

    async def token(self, connection: MicrosoftConnection) -> str:
        cached = self._tokens.get(self._key(connection))
        if cached is not None and time.monotonic() < cached.renew_at:
            return cached.value
        url = f"{connection.login_base_url.rstrip('/')}/{connection.tenant_id}/oauth2/v2.0/token"
        form = {
            "client_id": connection.client_id,
            "client_secret": connection.client_secret,
            "scope": GRAPH_SCOPE,
            "grant_type": "client_credentials",
        }
        try:
            async with self._http.post(
                url, data=form, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            ) as response:
                answer = await response.json(content_type=None)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as e:
            if is_refusal(e):
                raise PermanentDeliveryError(f"Microsoft token endpoint: {e}") from e
            reason = f"{e!r}" if isinstance(e, ValueError) else failure_reason(e)
            raise TransientDeliveryError(f"Microsoft token endpoint: {reason}") from e
        if status != 200 or "access_token" not in answer:
            # A wrong secret or tenant is ours to fix, never the e-mail's fault: transient.
            detail = answer.get("error_description") or answer.get("error") or answer
            raise TransientDeliveryError(f"Microsoft token endpoint answered {status}: {detail}")
        lifetime = float(answer.get("expires_in", 3600))
        token = _Token(
            str(answer["access_token"]), time.monotonic() + lifetime - EXPIRY_MARGIN_SECONDS
        )
        self._tokens[self._key(connection)] = token
        return token.value

    def forget(self, connection: MicrosoftConnection) -> None:
        self._tokens.pop(self._key(connection), None)

"""Google APIs with a service account: the OAuth token, Drive copy/export, Docs and Slides
batchUpdate.

The token is the documented two-legged flow: a JWT signed with the service account's key
(google-auth's signer) is exchanged at the token endpoint (`grant_type=…jwt-bearer`). The
endpoint is the connection's `token_url`, else the key's `token_uri`.
"""

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import aiohttp
from google.auth import crypt, jwt

from shared.connections.kinds import GoogleConnection
from shared.providers_http.errors import ProviderError, raise_for_answer, unreachable

DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
DOCS_SCOPE = "https://www.googleapis.com/auth/documents"
SLIDES_SCOPE = "https://www.googleapis.com/auth/presentations"
PDF = "application/pdf"
#: Drive refuses exports larger than this (403 `exportSizeLimitExceeded`).
EXPORT_LIMIT_BYTES = 10 * 1024 * 1024
TOKEN_LIFETIME_SECONDS = 3600


def token_endpoint(connection: GoogleConnection) -> str:
    uri = connection.service_account_info.get("token_uri")
    return connection.token_url or (uri if isinstance(uri, str) else DEFAULT_TOKEN_URL)


def signed_assertion(connection: GoogleConnection, scopes: Sequence[str], now: int) -> str:
    info = connection.service_account_info
    try:
        # google-auth ships without type hints.
        signer = crypt.RSASigner.from_service_account_info(info)  # type: ignore[no-untyped-call]
    except (ValueError, KeyError, TypeError) as e:
        raise ProviderError(f"the service account key is unusable: {e}", retryable=False) from e
    payload = {
        "iss": info.get("client_email"),
        "scope": " ".join(scopes),
        "aud": token_endpoint(connection),
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
    }
    assertion: bytes = jwt.encode(signer, payload)  # type: ignore[no-untyped-call]  # as above
    return assertion.decode()


async def google_token(
    http: aiohttp.ClientSession, connection: GoogleConnection, scopes: Sequence[str]
) -> str:
    form = {
        "grant_type": JWT_BEARER,
        "assertion": signed_assertion(connection, scopes, int(time.time())),
    }
    body = await _call(http, "POST", token_endpoint(connection), "Google token endpoint", data=form)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ProviderError(
            "Google token endpoint answered without an access_token", retryable=False
        )
    return token


class GoogleApis:
    def __init__(
        self, http: aiohttp.ClientSession, connection: GoogleConnection, token: str
    ) -> None:
        self._http = http
        self._connection = connection
        self._auth = {"Authorization": f"Bearer {token}"}

    async def copy(self, file_id: str, name: str, folder_id: str | None) -> dict[str, Any]:
        """Drive `files.copy`: the copy's File (`id`, `name`, `mimeType`)."""
        url = f"{self._drive()}/files/{quote(file_id, safe='')}/copy"
        body: dict[str, Any] = {"name": name}
        if folder_id:
            body["parents"] = [folder_id]
        return await _call(
            self._http, "POST", url, "Drive files.copy",
            params={"supportsAllDrives": "true"}, json=body, headers=self._auth,
        )  # fmt: skip

    async def batch_update_document(
        self, document_id: str, requests: list[dict[str, Any]]
    ) -> dict[str, Any]:
        base = self._connection.docs_base_url.rstrip("/")
        url = f"{base}/v1/documents/{quote(document_id, safe='')}:batchUpdate"
        return await _call(
            self._http,
            "POST",
            url,
            "Docs batchUpdate",
            json={"requests": requests},
            headers=self._auth,
        )

    async def batch_update_presentation(
        self, presentation_id: str, requests: list[dict[str, Any]]
    ) -> dict[str, Any]:
        base = self._connection.slides_base_url.rstrip("/")
        url = f"{base}/v1/presentations/{quote(presentation_id, safe='')}:batchUpdate"
        return await _call(
            self._http,
            "POST",
            url,
            "Slides batchUpdate",
            json={"requests": requests},
            headers=self._auth,
        )

    async def export_pdf(self, file_id: str) -> bytes:
        """Drive `files.export` as PDF. Drive refuses files over 10 MB: that is said plainly."""
        url = f"{self._drive()}/files/{quote(file_id, safe='')}/export"
        what = "Drive files.export"
        try:
            async with self._http.get(
                url, params={"mimeType": PDF}, headers=self._auth
            ) as response:
                if response.status == 403 and "exportSizeLimitExceeded" in await response.text():
                    raise ProviderError(
                        f"Drive cannot export file {file_id} as PDF: the export is larger than "
                        "Drive's 10 MB limit for files.export (exportSizeLimitExceeded)",
                        status=403,
                        retryable=False,
                    )
                await raise_for_answer(response, what)
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise unreachable(what, e) from e

    def _drive(self) -> str:
        return f"{self._connection.drive_base_url.rstrip('/')}/drive/v3"


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, what: str, **kwargs: Any
) -> dict[str, Any]:
    try:
        async with http.request(method, url, **kwargs) as response:
            await raise_for_answer(response, what)
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as e:
        raise unreachable(what, e) from e
    if not isinstance(body, dict):
        raise ProviderError(
            f"{what} answered with something other than a JSON object", retryable=True
        )
    return body

"""One way to call a provider: bounded bodies, timeouts, and errors that say if a retry helps."""

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from shared.egress import failure_reason, is_refusal
from shared.esign.errors import ProviderError
from shared.esign.model import SignedFile
from shared.http_body import body_up_to

#: Provider answers kept in an error message; enough to see what was refused.
_ERROR_EXCERPT = 500


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


async def request_json(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    body: Any = None,
    timeout_seconds: float,
) -> Any:
    """The decoded JSON answer (None for an empty one); ProviderError for anything else."""
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    try:
        async with http.request(
            method,
            url,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            raw = await response.read()
            status = response.status
    except TimeoutError as e:
        message = f"{method} {url} timed out after {timeout_seconds}s"
        raise ProviderError(message, retryable=True) from e
    except (aiohttp.ClientError, OSError) as e:
        reason = failure_reason(e)
        raise ProviderError(f"{method} {url}: {reason}", retryable=not is_refusal(e)) from e
    if status >= 400:
        excerpt = raw[:_ERROR_EXCERPT].decode(errors="replace")
        raise ProviderError(
            f"{method} {url} answered {status}: {excerpt}",
            retryable=is_retryable_status(status),
            status=status,
        )
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ProviderError(f"{method} {url} answered invalid JSON", retryable=True) from e


async def download(
    http: aiohttp.ClientSession,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout_seconds: float,
    max_bytes: int,
) -> tuple[bytes, str]:
    """The file's bytes and content type; refuses a file larger than `max_bytes`."""
    try:
        async with http.get(
            url, headers=headers or {}, timeout=aiohttp.ClientTimeout(total=timeout_seconds)
        ) as response:
            if response.status >= 400:
                raise ProviderError(
                    f"GET {url} answered {response.status}",
                    retryable=is_retryable_status(response.status),
                    status=response.status,
                )
            content = await body_up_to(response, max_bytes + 1)
            content_type = response.content_type
    except TimeoutError as e:
        message = f"GET {url} timed out after {timeout_seconds}s"
        raise ProviderError(message, retryable=True) from e
    except (aiohttp.ClientError, OSError) as e:
        raise ProviderError(f"GET {url}: {failure_reason(e)}", retryable=not is_refusal(e)) from e
    if len(content) > max_bytes:
        raise ProviderError(
            f"GET {url}: the file is larger than {max_bytes} bytes", retryable=False
        )
    return content, content_type


@dataclass(frozen=True)
class ProviderApi:
    """One provider's API as its client calls it: where it is, the `Authorization` it wants,
    its JSON media type, and the limits every call keeps."""

    http: aiohttp.ClientSession
    base_url: str
    authorization: str
    media_type: str
    #: The setting to name when the credential is missing.
    credential_setting: str
    timeout: float
    max_bytes: int

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """The JSON object the provider answered (empty for no or another JSON value)."""
        if not self.authorization:
            raise ProviderError(f"{self.credential_setting} is not set", retryable=False)
        headers = {"Authorization": self.authorization, "Accept": self.media_type}
        if body is not None:
            headers["Content-Type"] = self.media_type
        answer = await request_json(
            self.http,
            method,
            self.base_url + path,
            headers=headers,
            body=body,
            timeout_seconds=self.timeout,
        )
        return answer if isinstance(answer, dict) else {}

    async def signed_file(self, url: str, filename: str) -> SignedFile:
        """Download the signed document at `url` (a PDF unless the provider says otherwise)."""
        content, content_type = await download(
            self.http, url, timeout_seconds=self.timeout, max_bytes=self.max_bytes
        )
        return SignedFile(filename, content, content_type or "application/pdf", url)

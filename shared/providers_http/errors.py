"""Provider answers as DocFlow errors: the provider's own reason, and whether to retry."""

import json
from typing import Any

import aiohttp

from shared.egress import failure_reason, is_refusal
from shared.errors import DocflowError

#: Longest provider error text kept in a node's failure.
MAX_REASON_CHARS = 500


class ProviderError(DocflowError):
    def __init__(self, message: str, *, status: int | None = None, retryable: bool) -> None:
        super().__init__(message)
        self.status = status
        # An instance attribute: the same error type is retryable or not by its status.
        self.retryable = retryable


def retryable_status(status: int) -> bool:
    return status >= 500 or status in (408, 429)


async def raise_for_answer(response: aiohttp.ClientResponse, what: str) -> None:
    """Nothing for a 2xx; else a ProviderError carrying the provider's reason."""
    if response.status < 300:
        return
    text = (await response.text(errors="replace"))[:MAX_REASON_CHARS]
    raise ProviderError(
        f"{what} answered {response.status}: {_reason(text)}",
        status=response.status,
        retryable=retryable_status(response.status),
    )


def unreachable(what: str, error: BaseException) -> ProviderError:
    """A network failure or timeout: worth another attempt; an address the egress policy
    refuses is not."""
    return ProviderError(f"{what} failed: {failure_reason(error)}", retryable=not is_refusal(error))


def _reason(text: str) -> str:
    """`error.message` of the JSON error bodies Graph and Google send, else the raw text."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        return text
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return f"{error['message']} ({code})" if isinstance(code, str) else error["message"]
    if isinstance(error, str):
        description = body.get("error_description")
        return f"{error}: {description}" if isinstance(description, str) else error
    return text

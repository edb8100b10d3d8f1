"""A small JSON client for the gateway; every failure becomes one ApiError with one line."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from services.client.settings import ClientSettings

API = "/api/v1"
TIMEOUT = aiohttp.ClientTimeout(total=30)
#: A live stream has no end in sight; only connecting and silence are bounded.
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)


class ApiError(Exception):
    """What went wrong, in one line fit to print."""

    def __init__(self, line: str, *, unreachable: bool = False) -> None:
        super().__init__(line)
        #: The gateway did not answer at all (as opposed to answering with an error).
        self.unreachable = unreachable


class Api:
    def __init__(self, settings: ClientSettings, session: aiohttp.ClientSession) -> None:
        self._base = settings.url.rstrip("/")
        self._session = session
        self._headers = {"Accept": "application/json"}
        if settings.api_key:
            self._headers["Authorization"] = f"Bearer {settings.api_key}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        url = f"{self._base}{API}{path}"
        sent = {**self._headers, **(headers or {})}
        try:
            async with self._session.request(
                method, url, json=body, params=params, headers=sent, timeout=TIMEOUT
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise ApiError(problem_line(response.status, response.reason, text))
                return json.loads(text) if text else None
        except aiohttp.ClientError as e:
            raise ApiError(f"cannot reach DocFlow at {self._base}: {e}", unreachable=True) from e
        except TimeoutError as e:
            raise ApiError(f"DocFlow at {self._base} did not answer in time") from e

    @asynccontextmanager
    async def stream(
        self, path: str, last_event_id: str | None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        headers = {**self._headers, "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        try:
            async with self._session.get(
                f"{self._base}{API}{path}", headers=headers, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status >= 400:
                    text = await response.text()
                    raise ApiError(problem_line(response.status, response.reason, text))
                yield response
        except aiohttp.ClientConnectorError as e:
            raise ApiError(f"cannot reach DocFlow at {self._base}: {e}", unreachable=True) from e


def problem_line(status: int, reason: str | None, text: str) -> str:
    """`422 Unprocessable Entity: nodes.1.type: unknown node type (field nodes.1.type)`."""
    try:
        problem = json.loads(text)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"{status} {reason or ''}".strip() + (f": {text.strip()[:200]}" if text else "")
    title = problem.get("title") or reason or ""
    line = f"{status} {title}: {problem.get('detail', '')}".rstrip(": ")
    return " ".join(line.split())

"""The one way out for HTTP made on a workflow's behalf: an aiohttp session whose connector
checks every address it is about to connect to, redirects included, against the policy.

The check sits in the connector's resolution step, which every connection of the session goes
through (the first request, each redirect, a proxy), and it sees the addresses the socket will
use, so a name resolved again between a check and the connect cannot slip past it.
"""

import ipaddress
import socket
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.abc import ResolveResult

from shared.egress.policy import EgressPolicy, EgressRefused

if TYPE_CHECKING:
    from aiohttp.tracing import Trace

    from shared.settings import Settings

#: Redirects one request follows at most; each one is checked like the first connection.
MAX_REDIRECTS = 5


class TooManyRedirects(aiohttp.ClientError):
    retryable = False

    def __init__(self) -> None:
        super().__init__(f"more than {MAX_REDIRECTS} redirects")


def legacy_ipv4(host: str) -> str | None:
    """The address a numeric host means to the C library (`2130706433`, `0x7f000001`,
    `0177.0.0.1`, `127.1`), or None for a name."""
    if ":" in host:
        return None
    try:
        return str(ipaddress.IPv4Address(socket.inet_aton(host)))
    except OSError:
        return None


class EgressConnector(aiohttp.TCPConnector):
    def __init__(self, policy: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._policy = policy

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence["Trace"] | None = None
    ) -> list[ResolveResult]:
        # Numeric forms are checked as the address they mean, before aiohttp refuses them as
        # non-canonical or the resolver turns them into that address.
        numeric = legacy_ipv4(host)
        if numeric is not None:
            self._policy.check(host, [numeric])
        hosts = await super()._resolve_host(host, port, traces=traces)
        self._policy.check(host, [entry["host"] for entry in hosts])
        return hosts


async def _count_redirect(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestRedirectParams,
) -> None:
    # One context per request, shared by its redirects.
    context.redirects = getattr(context, "redirects", 0) + 1
    if context.redirects > MAX_REDIRECTS:
        raise TooManyRedirects()


def egress_session(settings: "Settings") -> aiohttp.ClientSession:
    """A session for calls made for a workflow or a connection. `HTTPS_PROXY` and friends are
    honoured (the proxy's own address must then be public or allowed)."""
    policy = EgressPolicy.parse(settings.egress_allow)
    redirects = aiohttp.TraceConfig()
    redirects.on_request_redirect.append(_count_redirect)
    return aiohttp.ClientSession(
        connector=EgressConnector(policy), trust_env=True, trace_configs=[redirects]
    )


def is_refusal(error: BaseException) -> bool:
    """An error no retry can fix: the policy refused the address, or redirects ran on."""
    return isinstance(error, EgressRefused | TooManyRedirects)


def failure_reason(error: BaseException) -> str:
    """What a failed call may say: the refusal, or only that the connection failed. A refused
    port, a filtered one and an unknown name read alike, so an answer is no port scanner."""
    if is_refusal(error):
        return str(error)
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"the connection to {error.host}:{error.port} failed"
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"the connection failed ({type(error).__name__})"

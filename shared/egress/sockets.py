"""A TCP connection for protocols other than HTTP (SMTP), checked like the HTTP session's:
every address the name resolves to must pass the policy, and the socket connects to one of
those very addresses, so the name is not resolved again after the check."""

import asyncio
import socket

from shared.egress.http import legacy_ipv4
from shared.egress.policy import EgressPolicy


class ConnectionFailed(OSError):
    """Says only that the connection failed: refused, filtered and unknown read alike."""


async def open_checked_socket(
    policy: EgressPolicy, host: str, port: int, *, timeout_seconds: float
) -> socket.socket:
    """A connected, non-blocking socket; EgressRefused before any connect when the policy
    refuses an address `host` means."""
    loop = asyncio.get_running_loop()
    numeric = legacy_ipv4(host)
    if numeric is not None:
        policy.check(host, [numeric])
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_seconds
        )
    except (OSError, TimeoutError) as e:
        raise ConnectionFailed(f"the connection to {host}:{port} failed") from e
    policy.check(host, [str(info[4][0]) for info in infos])
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, address), timeout_seconds)
        except (OSError, TimeoutError):
            sock.close()
            continue
        return sock
    raise ConnectionFailed(f"the connection to {host}:{port} failed")

"""Which addresses a workflow may reach: public ones, and what `DOCFLOW_EGRESS_ALLOW` opens.

The check is made on the address a connection is about to use, after resolution, so a name
that resolves to a private address (DNS rebinding, `localhost`, `0x7f000001`) is refused like
the address itself.
"""

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Refused whatever `is_global` says: NAT64 (it reaches IPv4 through a translator) and the
#: IPv4 ranges Python counts as global but no workflow needs.
_ALSO_REFUSED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("100.64.0.0/10"),
)
#: What `docflow dev` and the tests open: the loopback networks.
LOOPBACK = "127.0.0.0/8,::1/128"
SETTING = "DOCFLOW_EGRESS_ALLOW"
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_][a-z0-9_-]{0,62})*$")


class EgressRefused(aiohttp.ClientError):
    """A connection to an address the policy refuses. Never worth a retry."""

    retryable = False

    def __init__(self, address: str) -> None:
        super().__init__(f"egress to {address} refused by policy ({SETTING})")
        self.address = address


def _host_key(name: str) -> str:
    return name.strip().lower().rstrip(".")


@dataclass(frozen=True)
class EgressPolicy:
    """Public addresses pass; the refused ranges pass only when an allowed network holds them
    or the connection is to an allowed host name."""

    networks: tuple[IPNetwork, ...] = ()
    host_names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, allow: str) -> "EgressPolicy":
        """`allow` is comma-separated CIDRs (or single addresses) and host names."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for raw in allow.split(","):
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = _host_key(entry)
            if not _HOST_NAME.match(name):
                raise ValueError(f"{entry!r} is neither a CIDR nor a host name")
            names.add(name)
        return cls(tuple(networks), frozenset(names))

    def allows_host_name(self, host: str) -> bool:
        return _host_key(host) in self.host_names

    def allows(self, address: str | IPAddress) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
        if isinstance(ip, ipaddress.IPv6Address):
            # The IPv4 address a mapped or 6to4 one reaches is the one that counts.
            embedded = ip.ipv4_mapped or ip.sixtofour
            if embedded is not None:
                return self.allows(embedded)
        if any(ip in network for network in self.networks):
            return True
        return _is_public(ip)

    def check(self, host: str, addresses: Iterable[str]) -> None:
        """Raise EgressRefused naming the first refused address `host` resolved to."""
        if self.allows_host_name(host):
            return
        for address in addresses:
            if not self.allows(address):
                raise EgressRefused(address)


def _is_public(ip: IPAddress) -> bool:
    # `is_global` leaves out loopback, RFC 1918, link-local (169.254.169.254 included),
    # unspecified, reserved, ULA and IPv6 link-local; multicast needs its own test.
    if ip.is_multicast or not ip.is_global:
        return False
    return not any(ip in network for network in _ALSO_REFUSED if network.version == ip.version)

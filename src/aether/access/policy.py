"""Who may reach what: client address (through trusted proxies), allow-list, Origin."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs or addresses ('none' or empty for none)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if items in ([], ["none"]):
        return ()
    try:
        return tuple(ipaddress.ip_network(t, strict=False) for t in items)
    except ValueError:
        raise ValueError(
            "comma-separated addresses or CIDRs, e.g. 10.0.0.0/8,192.168.1.5"
        ) from None


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _in(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in n for n in networks)


@dataclass(frozen=True)
class NetworkPolicy:
    allow: tuple[Network, ...] = ()  # empty: every address may connect
    trusted_proxies: tuple[Network, ...] = ()

    def client_address(self, peer: str | None, headers: Mapping[str, str]) -> Address | None:
        """The real client address: the peer, or, when the peer is a trusted proxy, the
        right-most X-Forwarded-For entry that is not itself a trusted proxy."""
        address = _address(peer)
        if address is None or not _in(address, self.trusted_proxies):
            return address
        # Repeated header lines form one list (RFC 9110 section 5.3).
        getall = getattr(headers, "getall", None)
        lines = getall("X-Forwarded-For", []) if getall else [headers.get("X-Forwarded-For", "")]
        forwarded = ",".join(lines)
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            hop_address = _address(hop)
            if hop_address is None:
                return None  # a malformed chain proves nothing: treat as unknown
            if not _in(hop_address, self.trusted_proxies):
                return hop_address
        return address

    def allowed(self, address: Address | None) -> bool:
        if not self.allow:
            return True
        return address is not None and _in(address, self.allow)


def origin_allowed(
    origin: str | None, host: str | None, scheme: str, allowed: tuple[str, ...]
) -> bool:
    """A browser's WebSocket Origin must be this server's own origin or explicitly allowed.

    Requests without an Origin header come from non-browser clients, which cannot be made
    to ride a user's session, and are allowed (they still need a token where one is).
    """
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin in (a.lower() for a in allowed) or "*" in allowed:
        return True
    parts = urlsplit(origin)
    if not host or parts.scheme not in ("http", "https"):
        return False
    same_scheme = parts.scheme == scheme or (scheme, parts.scheme) == ("http", "https")
    return same_scheme and parts.netloc == host.lower()

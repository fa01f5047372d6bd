"""Who is really on the other end: X-Forwarded-For/-Proto are believed only from `[console]
trusted_proxies`, since anyone else can write those headers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """"10.0.0.1", "10.0.0.0/8", "::1" → networks; raises ValueError naming the bad entry."""
    nets: list[Network] = []
    for entry in entries:
        try:
            nets.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR network (e.g. \"10.0.0.0/8\")") from None
    return nets


class TrustedProxies:
    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks = parse_networks(entries)

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    def client_address(self, request: web.Request) -> str:
        """The peer, or (when the peer is a trusted proxy) the nearest untrusted address in
        X-Forwarded-For, read right to left: entries further left are the client's to forge."""
        peer = request.remote or "?"
        if not self.trusts(peer):
            return peer
        hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop[:64]
        return hops[0][:64] if hops else peer

    def is_https(self, request: web.Request) -> bool:
        """TLS on this connection, or a trusted proxy saying its own client used HTTPS."""
        if request.secure:
            return True
        if not self.trusts(request.remote):
            return False
        protos = [p.strip().lower() for v in request.headers.getall("X-Forwarded-Proto", []) for p in v.split(",")]
        return bool(protos) and protos[-1] == "https"

"""The client's address behind a reverse proxy: `X-Forwarded-For`, believed only from proxies you name.

The idea: per-address limits (sign-ups, logins, uploads, messages) key on the address
the connection came from, which behind nginx or `python -m instamini edge` is the
proxy's, so every person would share one budget. Each proxy appends the address it
saw to `X-Forwarded-For`. This ASGI middleware, when the connection comes from an
address in `[server] trusted_proxies` (addresses or networks: "127.0.0.1",
"10.0.0.0/8"), walks that header from the right, past the trusted hops, and makes
the first address it does not trust the request's client (`scope["client"]`), so
Litestar's rate limits and ours see the person's address. The header is ignored from
anyone else: a client that sends its own `X-Forwarded-For` straight to the server
changes nothing, and behind a trusted proxy it can only add hops to the left of the
one the proxy saw, which are never reached.

Cost: nothing when `trusted_proxies` is empty (the default: the middleware is not
installed); otherwise a header scan and an `ipaddress` parse per hop, per request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """Addresses or networks (CIDR); a bad entry raises ValueError (the config refuses it)."""
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, networks: list[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_behind(peer: str, forwarded_for: str | None, networks: list[Network]) -> str:
    """The address to treat as the client's: `peer` unless it is a trusted proxy that said otherwise."""
    if not forwarded_for or not _trusted(_address(peer), networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer  # a malformed hop: believe nothing to the left of it
        if not _trusted(address, networks):
            return str(address)
    return str(_address(hops[0]))  # every hop is a proxy of ours: the first one is as far as it goes


def trusted_proxies_middleware(entries: Iterable[str]):
    """A Litestar middleware factory rewriting `scope["client"]` as described above."""
    networks = parse_networks(entries)

    def middleware(app):
        async def forwarded(scope, receive, send):
            if scope["type"] in ("http", "websocket") and scope.get("client"):
                header = next((value for name, value in scope["headers"] if name == b"x-forwarded-for"), None)
                peer, port = scope["client"]
                client = client_behind(peer, header.decode("latin-1") if header else None, networks)
                if client != peer:
                    scope = {**scope, "client": (client, port)}
            await app(scope, receive, send)

        return forwarded

    return middleware

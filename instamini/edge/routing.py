"""Sending a request to its sender's instance first: the shard a session token names.

The idea ("route to the viewer's owner at the door"): any instance answers any request,
forwarding what is not its own (docs/cluster.md), but a request that arrives at the
instance owning its sender runs the session check and the page there, without a round
trip. A token is `<shard>.<random>` (accounts/service.py), and a shard has one owner,
so an edge told which origin owns which shards (`[edge] shard_owners`, or `--shards
URL=0-3`) sends a request with a bearer token or a session cookie to that origin first.
It is only an order: if that origin does not answer, the next is tried as before, and
after a shard moves a stale table costs a forward, never a wrong answer.

Cost: a header scan and a dict lookup per passed-through request; nothing for media.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from ..accounts.auth import SESSION_COOKIE
from ..accounts.service import shard_named_by
from ..cluster.topology import parse_shards
from ..ids import MAX_SHARDS


def owner_table(shard_owners: dict[str, str], urls: list[str]) -> dict[int, int]:
    """shard -> the index in `urls` of the origin that owns it; raises ValueError for an owner
    that is not one of the origins, or a range that is not one."""
    table: dict[int, int] = {}
    known = {url.rstrip("/"): index for index, url in enumerate(urls)}
    for url, ranges in shard_owners.items():
        index = known.get(url.rstrip("/"))
        if index is None:
            raise ValueError(f"shard_owners: {url} is not one of the origins")
        for shard in parse_shards(ranges, MAX_SHARDS, f"shard_owners[{url}]"):
            table[shard] = index
    return table


def sender_shard(authorization: str | None, cookie: str | None) -> int | None:
    """The shard the request's session token names, if it has one of that form."""
    if authorization and authorization[:7].lower() == "bearer ":
        shard = _within(shard_named_by(authorization[7:].strip()))
        if shard is not None:
            return shard
    if cookie:
        try:
            morsel = SimpleCookie(cookie).get(SESSION_COOKIE)
        except CookieError:
            return None
        return _within(shard_named_by(morsel.value)) if morsel is not None else None
    return None


def _within(shard: int | None) -> int | None:
    return shard if shard is not None and shard < MAX_SHARDS else None

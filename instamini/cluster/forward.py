"""Running a service method on the instance that owns its data: forwarding by shard owner.

The idea ("work on another instance's data is forwarded"): a service method that reads
or writes one shard says which shard, and a decorator runs it where that shard lives.
On the owner it is just the method; elsewhere the same call goes over the internal RPC
to the owner, which runs the method there, so the owner's cache, events and writes are
the ones that happen. No instance ever writes another's shard or caches another's data,
which is what keeps every LMDB cache right without invalidation traffic.

    class AccountsService:
        @owned(lambda self, username, *_: self.meta.shard_for_text(username.lower()))
        async def register(self, username: str, password: str, display_name: str = "") -> ...: ...

        @owned_batch                                        # ids first; a dict keyed by id back
        async def get_users(self, user_ids: Iterable[int]) -> dict[int, UserRecord]: ...

`owned_batch` splits the ids by owner: the local part runs here, each other owner gets
one call with its ids, all at once, and the dicts are merged; a page that spans three
instances costs at most one call per instance.

A read over every shard (a search, a hashtag's newest posts) is a method marked
`@owned_shards` whose first argument is a list of shards, all one instance's;
`scatter(service, method, ...)` calls it once per instance with that instance's shards
(`shard_groups`) and returns the results in a list (`scatter_lists`: their items in one list). `local_shards(service)` is what a
background loop (a janitor, an outbox) works on: the shards this instance owns.

The service names its cluster node `self.cluster` (None on a single instance, when the
decorated method is called directly at the cost of one attribute read), and
`serve_owned(node, service)` registers a procedure per decorated method, named after it
("instamini.accounts.service.AccountsService.register"). Arguments travel as a msgpack tuple typed from the
method's annotations; an InstaminiError raised on the owner (NotFound, Conflict ...)
is raised again, same class and detail, on the caller.

Cost: nothing on a single instance. Otherwise one signed RPC round trip (about 1 ms on
loopback, docs/benchmarks.md) for a call whose shard is elsewhere; nothing for a local one.
"""

from __future__ import annotations

import asyncio
import collections.abc
import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InstaminiError, RateLimited
from ..ids import shard_of
from .errors import RpcCallFailed, RpcUnavailable
from .registry import _snake

OWNED = "__instamini_owned__"  # marks a decorated method: its undecorated function


def procedure_name(method: Callable) -> str:
    return f"{method.__module__}.{method.__qualname__}"


def _owner(topology, shard: int) -> str:
    """Who runs a call for `shard`; a shard no map has (a made-up id) stays here, to fail as it
    would on a single instance."""
    return topology.owner_of(shard) if 0 <= shard < topology.shard_count else topology.local


def _errors_by_code() -> dict[str, type[InstaminiError]]:
    found, pending = {}, [InstaminiError]
    while pending:
        cls = pending.pop()
        found[_snake(cls.__name__)] = cls
        pending.extend(cls.__subclasses__())
    return found


def _raise_again(error: RpcCallFailed) -> typing.NoReturn:
    """The owner's InstaminiError, as the caller would have seen it had the method run here."""
    cls = _errors_by_code().get(error.code)
    if cls is None or cls is RateLimited:  # RateLimited needs its retry_after: keep the RPC error
        raise error
    raise cls(error.detail) from None


def _wire_type(hint: Any) -> Any:
    # An Iterable parameter arrives as the list it was sent as (msgspec decodes no Iterable).
    if typing.get_origin(hint) is collections.abc.Iterable:
        return list[typing.get_args(hint)[0]]
    return hint


# A method's signature, read once: every forwarded call binds its arguments with it.
_signature = functools.cache(inspect.signature)


@functools.cache
def _types(function: Callable) -> tuple[Any, Any]:
    """(tuple of the parameter types after self, the return type), from the annotations."""
    hints = typing.get_type_hints(function)
    names = list(_signature(function).parameters)[1:]
    return tuple[tuple(_wire_type(hints.get(name, Any)) for name in names)], hints.get("return", Any)


def _positional(function: Callable, self: Any, args: tuple, kwargs: dict) -> tuple:
    """Every argument after self, defaults filled in, in the signature's order: what travels."""
    bound = _signature(function).bind(self, *args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.arguments.values())[1:]


def _call(function: Callable, self: Any, values: tuple):
    """The call `_positional` describes, keyword-only parameters passed by name again."""
    args, kwargs = [], {}
    for parameter, value in zip(list(_signature(function).parameters.values())[1:], values):
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    return function(self, *args, **kwargs)


def owned(shard: Callable[..., int]) -> Callable:
    """Run the method on the owner of `shard(self, *args, **kwargs)`."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        async def forwarding(self, *args, **kwargs):
            node = self.cluster
            if node is None:
                return await method(self, *args, **kwargs)
            owner = _owner(node.topology, shard(self, *args, **kwargs))
            if owner == node.topology.local:
                return await method(self, *args, **kwargs)
            _, result_type = _types(method)
            try:
                return await node.client.call(
                    owner, procedure_name(method), _positional(method, self, args, kwargs), result_type=result_type
                )
            except RpcCallFailed as error:
                _raise_again(error)

        setattr(forwarding, OWNED, method)
        return forwarding

    return decorate


def owned_batch(method: Callable) -> Callable:
    """Run the method for each owner on its share of the ids (the first argument); merge the dicts.

    `partial=True` (a keyword of the call, which does not travel) leaves out the ids of owners
    that do not answer instead of failing: for a page that is better shown without them (a feed
    while one instance is down), never for a lookup whose "missing" would mean "no such thing"."""
    @functools.wraps(method)
    async def forwarding(self, ids: Iterable[int], *rest, partial: bool = False):
        node = self.cluster
        if node is None:
            return await method(self, ids, *rest)
        ids = list(ids)
        by_owner: dict[str, list[int]] = {}
        for item in ids:
            by_owner.setdefault(_owner(node.topology, shard_of(item)), []).append(item)
        local = by_owner.pop(node.topology.local, None)
        if not by_owner:
            return await method(self, ids, *rest)
        _, result_type = _types(method)
        from .rpc_client import RpcCall  # the HTTP half, loaded only by a cluster

        name = procedure_name(method)
        remote = node.client.fan_out(
            [(owner, RpcCall(name, (part, *rest), result_type)) for owner, part in by_owner.items()],
            idempotent=True,  # a batch method reads: running it twice is harmless
            return_errors=partial,
        )

        async def here() -> list:
            return [await method(self, local, *rest)] if local else []

        try:  # the local share and the other owners' at once
            mine, theirs = await asyncio.gather(here(), remote)
        except RpcCallFailed as error:
            _raise_again(error)
        merged: dict = {}
        for part in (*mine, *theirs):
            if isinstance(part, RpcUnavailable):
                node.client.metrics.partial_results += 1  # that owner's ids are left out
                continue
            if isinstance(part, RpcCallFailed):
                _raise_again(part)
            if isinstance(part, Exception):
                raise part
            merged.update(part)
        return merged

    setattr(forwarding, OWNED, method)
    return forwarding


def owned_shards(method: Callable) -> Callable:
    """Run the method on the owner of its first argument, a list of shards one instance owns
    (a group from `shard_groups`): a scatter over every shard is one call per instance."""
    return owned(lambda self, shards, *_, **__: shards[0])(method)


def local_shards(service: Any) -> Sequence[int]:
    """The shards this instance owns, whose background work (janitors, outboxes) is its own:
    every shard on a single instance."""
    node = service.cluster
    return range(service.meta.shard_count) if node is None else node.topology.local_shards


def shard_groups(service: Any) -> list[list[int]]:
    """Every shard, in one group per instance that owns some (one group on a single instance):
    what a method marked `@owned_shards` is called with, once per group."""
    shards = range(service.meta.shard_count)
    if service.cluster is None:
        return [list(shards)]
    return list(service.cluster.topology.group_by_instance(shards).values())


async def scatter(service: Any, method: Callable, *args: Any) -> list:
    """`method(group, *args)` for every group of `shard_groups` at once; their results, in order."""
    return await asyncio.gather(*(method(group, *args) for group in shard_groups(service)))


async def scatter_lists(service: Any, method: Callable, *args: Any) -> list:
    """`scatter` of a method that returns a list: every instance's items, as one list."""
    return [item for part in await scatter(service, method, *args) for item in part]


def join_cluster(state, service: Any) -> None:
    """Make `service` forward to owners, and serve its owned methods, when this is a cluster.

    On a single instance (or with the cluster module off) `service.cluster` stays None."""
    node = getattr(state, "cluster", None)
    service.cluster = None if node is None or node.topology.single else node
    if service.cluster is not None:
        serve_owned(node, service)


def serve_owned(node, service: Any) -> list[str]:
    """Register a procedure for each decorated method of `service`; returns their names."""
    names = []
    for _, member in inspect.getmembers(type(service)):
        method = getattr(member, OWNED, None)
        if method is None:
            continue
        name = procedure_name(method)
        args_type, _ = _types(method)

        async def handler(args, _method=method):
            return await _call(_method, service, args)

        node.procedures.register(name, handler, args_type=args_type)
        names.append(name)
    return names

"""The procedures every instance serves: `cluster.ping` and `meta.read`.

(An instance of a cluster of two or more also serves the procedures of a shard move:
`cluster.map`, `cluster.adopt_map` and `cluster.move.*`, in shard_move.py.)

`cluster.ping` says who answers and what it owns, which is how an operator (or a test)
checks that two instances see the same map. `meta.read` runs one read-only SQL
statement on a shard this instance owns and returns its rows as lists; asked for a
shard it does not own, it answers `not_my_shard` naming the owner, so a caller with a
stale map finds out instead of reading a copy nobody writes any more. It is as
powerful as a read-only SQLite prompt: every instance holding the cluster secret is
trusted with every row, as the instances of one database are with each other.

Cost: ping reads memory; meta.read is one `state.meta.read` (a reader-thread hop) plus
the RPC's own cost.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Annotated, Any

import msgspec

from .errors import NotMyShard, ProcedureError
from .registry import RpcRegistry

class PingResult(msgspec.Struct):
    instance: str
    shards: list[int]  # the logical shards this instance owns
    map_version: int
    time: float  # unix seconds on the answering instance: compare clocks with it


class MetaReadArgs(msgspec.Struct, forbid_unknown_fields=True):
    shard: Annotated[int, msgspec.Meta(ge=0)]
    sql: Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
    # ints, floats, strings, bytes or nil; sqlite3 refuses anything else (a sql_error).
    params: list[Any] = []


def register_builtins(registry: RpcRegistry, cluster: Any, meta: Any) -> None:
    """`cluster` is the node (app.state.cluster: its topology may be replaced); `meta` the shards."""

    @registry.procedure("cluster.ping")
    async def ping() -> PingResult:
        topology = cluster.topology
        return PingResult(topology.local, list(topology.local_shards), topology.version, time.time())

    @registry.procedure("meta.read")
    async def meta_read(args: MetaReadArgs) -> list[list[Any]]:
        topology = cluster.topology
        if args.shard >= topology.shard_count:
            raise ProcedureError("bad_args", f"shard {args.shard} is outside 0-{topology.shard_count - 1}")
        if not topology.is_local(args.shard):
            raise NotMyShard(args.shard, topology.owner_of(args.shard))
        try:
            rows = await meta.read(args.shard, args.sql, args.params)
        except sqlite3.Error as error:  # a bad statement, or a write (the reader is query_only)
            raise ProcedureError("sql_error", f"{type(error).__name__}: {error}") from None
        return [list(row) for row in rows]

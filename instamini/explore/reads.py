"""Explore's reads of many shards, by name, each run on the instance that owns the shard.

The idea: Explore gathers candidates with a handful of fixed queries, some asked of
every shard (likes are on the liked post's shard, so "what did these people like"
is on all of them) and some of the shards that hold a batch of ids (the viewer's
follows, a few authors' posts). Here each query has a name; `everywhere(name)` asks
every instance for its own shards' rows (one call per instance, `@owned_shards`), and
`by_shard(name, ids)` asks each instance only for the ids on its shards. Only the name
and the values travel between instances, never SQL: the owner looks the statement up
in QUERIES, so every statement Explore runs is in this one table, to read and to index.

In each statement `{values}` stands for the list of values, bound after any `?`
parameters (so limits are written into the text). Rows come back as dicts.

Cost: on a single instance, the shard reads themselves (run at once). In a cluster,
one round trip per other instance per call, the shards' reads overlapping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..cluster.forward import owned_shards, scatter_lists
from ..ids import group_by_shard, shard_of
from ..stores.meta import ShardedMeta

PER_QUERY = 100  # rows one query on one shard may return
FOLLOWEES = 50
FRIENDS_OF_FRIENDS = 200
EXCLUDED_EDGES = 5000

QUERIES = {
    # asked of every shard
    "recent_likes": "SELECT post_id, id FROM likes WHERE user_id = ? ORDER BY id DESC LIMIT ?",
    "likes_of_people": f"SELECT post_id, id FROM likes WHERE user_id IN ({{values}}) ORDER BY id DESC LIMIT {PER_QUERY:d}",
    "posts_with_tags": (
        f"SELECT DISTINCT post_id FROM post_tags WHERE tag IN ({{values}}) ORDER BY post_id DESC LIMIT {PER_QUERY:d}"
    ),
    "trending": (
        "SELECT post_id, COUNT(*) AS n FROM likes WHERE post_id > ? GROUP BY post_id "
        f"ORDER BY n DESC, post_id DESC LIMIT {PER_QUERY:d}"
    ),
    # asked of the shards that hold the ids
    "likers_of_posts": (
        f"SELECT user_id FROM likes WHERE user_id != ? AND post_id IN ({{values}}) ORDER BY id DESC LIMIT {PER_QUERY:d}"
    ),
    "excluded_authors": (
        "SELECT dst FROM edges WHERE kind IN ('following', 'blocking', 'blocked_by') "
        f"AND src IN ({{values}}) LIMIT {EXCLUDED_EDGES:d}"
    ),
    "followees": f"SELECT dst FROM edges WHERE kind = 'following' AND src IN ({{values}}) LIMIT {FOLLOWEES:d}",
    "followees_of": (
        f"SELECT DISTINCT dst FROM edges WHERE kind = 'following' AND src IN ({{values}}) LIMIT {FRIENDS_OF_FRIENDS:d}"
    ),
    "posts_by": f"SELECT id FROM posts WHERE author_id IN ({{values}}) ORDER BY id DESC LIMIT {PER_QUERY:d}",
}

Row = dict[str, int]


class ExploreReads:
    def __init__(self, meta: ShardedMeta) -> None:
        self.meta = meta
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)

    async def _read(self, shard: int, name: str, params: Sequence, values: Sequence) -> list[Row]:
        sql = QUERIES[name].format(values=",".join("?" * len(values)))
        return [dict(row) for row in await self.meta.read(shard, sql, [*params, *values])]

    @owned_shards
    async def on_every_shard(self, shards: list[int], name: str, params: list[int], values: list[int | str]) -> list[Row]:
        """The query on each of `shards` (all this owner's), with all the values."""
        per_shard = await asyncio.gather(*(self._read(shard, name, params, values) for shard in shards))
        return [row for rows in per_shard for row in rows]

    @owned_shards
    async def on_shards_of(self, shards: list[int], name: str, params: list[int], ids: list[int]) -> list[Row]:
        """The query on each shard holding some of `ids` (all this owner's), with its own ids."""
        groups = group_by_shard(ids)
        per_shard = await asyncio.gather(*(self._read(shard, name, params, group) for shard, group in groups.items()))
        return [row for rows in per_shard for row in rows]

    async def everywhere(self, name: str, params: Sequence[int] = (), values: Sequence[int | str] = ()) -> list[Row]:
        return await scatter_lists(self, self.on_every_shard, name, list(params), list(values))

    async def by_shard(self, name: str, ids: Sequence[int], params: Sequence[int] = ()) -> list[Row]:
        if not ids:
            return []
        groups = [list(ids)] if self.cluster is None else self.cluster.topology.group_ids_by_instance(ids).values()
        parts = await asyncio.gather(
            *(self.on_shards_of(sorted({shard_of(i) for i in group}), name, list(params), group) for group in groups)
        )
        return [row for part in parts for row in part]

"""Exact counters (followers, following, posts, likes ...) kept beside the rows they count.

The idea: counting rows on every read (`SELECT count(*)`) costs time proportional to
the count; instead each write that adds or removes a counted row also bumps a
counter in the same transaction, so the counter is exact and reading it is O(1).
Counters live on the shard of the object they belong to, in one table
(`counters(object_id, name, value)`), and are cached in LMDB per object as a
small map, invalidated when a write bumps them.

Cost: one extra UPDATE per counted write; one cache entry per object.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ..cluster.forward import owned_batch
from ..ids import group_by_shard
from .cache_base import CacheBackend, CacheTable
from .meta import ShardedMeta

MIGRATIONS = [
    """
    CREATE TABLE counters (
        object_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (object_id, name)
    ) WITHOUT ROWID;
    """,
]
CACHE_TABLE = "counters"


def bump(conn: sqlite3.Connection, object_id: int, name: str, delta: int) -> None:
    """Add delta to a counter; call inside the write job that changed what it counts."""
    conn.execute(
        "INSERT INTO counters (object_id, name, value) VALUES (?, ?, ?) "
        "ON CONFLICT (object_id, name) DO UPDATE SET value = value + excluded.value",
        (object_id, name, delta),
    )


class Counters:
    """Cached reads of counters; writers call `invalidate` after their commit."""

    def __init__(self, meta: ShardedMeta, cache: CacheBackend) -> None:
        self.meta = meta
        self.table: CacheTable[dict[str, int]] = CacheTable(cache, CACHE_TABLE, dict[str, int])
        self.cluster = None  # in a cluster, another owner's counters are read from that owner

    @owned_batch
    async def get_many(self, object_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        return await self.table.get_or_load(object_ids, self._load)

    async def _load(self, object_ids: list[int]) -> dict[int, dict[str, int]]:
        rows = await self.meta.read_by_shard(
            "SELECT object_id, name, value FROM counters WHERE object_id IN ({ids})", group_by_shard(object_ids)
        )
        loaded: dict[int, dict[str, int]] = {object_id: {} for object_id in object_ids}
        for row in rows:
            loaded[row["object_id"]][row["name"]] = row["value"]
        return loaded

    async def get(self, object_id: int) -> dict[str, int]:
        return (await self.get_many([object_id]))[object_id]

    def invalidate(self, *object_ids: int) -> None:
        for object_id in object_ids:
            self.table.delete(object_id)

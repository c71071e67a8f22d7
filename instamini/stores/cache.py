"""A disposable read cache in LMDB: microsecond reads on the event loop.

The idea: the hot paths (sessions, profiles, counters, feeds) are read far more
often than written, so they are served from a memory-mapped B+tree (LMDB) that a
read transaction opens in about a microsecond, with no thread hop and no await.
SQLite stays the source of truth; the cache can be deleted at any time and fills
again from it (a miss costs one SQLite query, then the entry is stored).

Writes are batched: `put`/`delete` land in a small pending dict that readers see
at once, and one flush per event-loop tick writes them all in a single LMDB write
transaction. LMDB is opened with sync off, so a crash may lose the last flushes:
that is why it is never the only copy, and why after an unclean stop (no
clean-shutdown marker) the whole cache is wiped and rebuilt lazily. A full map is
grown (doubling up to a maximum) and, past that, the largest table is emptied.

Stale fills: a reader that misses, queries SQLite and stores what it read could
overwrite a newer value written meanwhile. Each table has a generation counter
bumped by every put/delete; `fill()` only stores if it has not moved since the
reader started.

Cost: a memory map of `map_size` bytes of address space (pages only as used); one
small write transaction per loop tick with pending writes.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

import lmdb

from .cache_base import CacheBackend, Missing

log = logging.getLogger(__name__)
CLEAN_MARKER = "clean-shutdown"


class LmdbCache(CacheBackend):
    """The LMDB backend. Tables are LMDB named databases."""

    def __init__(self, path: Path, tables: Iterable[str], *, map_size_mb: int = 256, max_map_size_mb: int = 4096):
        super().__init__(tables)
        self.path = Path(path)
        self._map_size = map_size_mb << 20
        self._max_map_size = max(max_map_size_mb, map_size_mb) << 20
        self._env: lmdb.Environment | None = None
        self._dbs: dict[str, object] = {}
        self._pending: dict[tuple[str, bytes], bytes | None] = {}
        self._flush_scheduled = False
        self.wiped_on_open = False
        self._max_key_size = 511
        self.evictions = 0

    # -- lifecycle -------------------------------------------------------------

    def open(self) -> None:
        marker = self.path / CLEAN_MARKER
        if (self.path / "data.mdb").exists() and not marker.exists():
            # Unclean stop: with sync off the file may miss recent invalidations. Start empty.
            log.warning("cache at %s was not closed cleanly; wiping it", self.path)
            shutil.rmtree(self.path)
            self.wiped_on_open = True
        self.path.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        self._env = lmdb.open(
            str(self.path),
            map_size=self._map_size,
            max_dbs=len(self.tables) + 1,
            sync=False,  # speed over durability: SQLite holds the truth
            metasync=False,
            readahead=False,  # random access: do not read pages we do not need
        )
        self._map_size = self._env.info()["map_size"]
        self._max_key_size = self._env.max_key_size()
        self._dbs = {name: self._env.open_db(name.encode()) for name in self.tables}

    def close(self) -> None:
        if self._env is None:
            return
        self.flush()
        self._env.sync(True)
        self._env.close()
        self._env = None
        (self.path / CLEAN_MARKER).write_bytes(b"")

    # -- reads: synchronous, on the loop ---------------------------------------------

    def get(self, table: str, key: bytes) -> bytes | None:
        pending = self._pending.get((table, key), Missing)
        if pending is not Missing:
            return self._count(table, pending)
        with self._env.begin(db=self._dbs[table]) as txn:
            return self._count(table, txn.get(key))

    def get_multi(self, lookups: Iterable[tuple[str, bytes]]) -> list[bytes | None]:
        values: list[bytes | None] = []
        with self._env.begin() as txn:  # one read transaction across tables
            for table, key in lookups:
                pending = self._pending.get((table, key), Missing)
                value = txn.get(key, db=self._dbs[table]) if pending is Missing else pending
                values.append(self._count(table, value))
        return values

    def scan(self, table: str, prefix: bytes, limit: int, start: bytes | None = None) -> list[tuple[bytes, bytes]]:
        if self._pending:
            self.flush()  # a range cannot consult the pending dict cheaply: write it out first
        found = []
        with self._env.begin(db=self._dbs[table]) as txn, txn.cursor() as cursor:
            if not cursor.set_range(max(prefix, start or prefix)):
                return found
            for key, value in cursor:
                if not key.startswith(prefix) or len(found) == limit:
                    break
                found.append((key, value))
        return found

    def entries(self, table: str) -> int:
        self.flush()
        with self._env.begin() as txn:
            return txn.stat(self._dbs[table])["entries"]

    # -- writes: batched -------------------------------------------------------------------

    def _store(self, table: str, key: bytes, value: bytes | None) -> None:
        if len(key) > self._max_key_size:
            raise ValueError(f"cache key of {len(key)} bytes is longer than LMDB's {self._max_key_size}")
        self._pending[(table, key)] = value
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (scripts, sync tests): write through
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every pending change in one LMDB transaction."""
        self._flush_scheduled = False
        if not self._pending or self._env is None:
            return
        batch, self._pending = self._pending, {}
        for _attempt in range(len(self.tables) + 8):
            try:
                self._write(batch)
                return
            except lmdb.MapFullError:
                self._make_room()
            except lmdb.Error:
                log.exception("cache write failed; dropping the batch's keys")
                break
        else:
            log.error("cache batch of %d entries does not fit even in an empty map; dropped", len(batch))
        self._drop_keys(batch)

    def _write(self, batch: dict[tuple[str, bytes], bytes | None]) -> None:
        with self._env.begin(write=True) as txn:
            for (table, key), value in batch.items():
                if value is None:
                    txn.delete(key, db=self._dbs[table])
                else:
                    txn.put(key, value, db=self._dbs[table])

    def _make_room(self) -> None:
        # Runs on the loop thread between read transactions, so resizing the map is safe.
        if self._map_size < self._max_map_size:
            self._map_size = min(self._map_size * 2, self._max_map_size)
            self._env.set_mapsize(self._map_size)
            log.info("cache map grown to %d MiB", self._map_size >> 20)
            return
        with self._env.begin() as txn:
            largest = max(self.tables, key=lambda name: txn.stat(self._dbs[name])["entries"])
        with self._env.begin(write=True) as txn:
            txn.drop(self._dbs[largest], delete=False)
        self.evictions += 1
        self.bump(largest)  # fills that started before the eviction may not come back
        log.warning("cache map full at %d MiB; emptied table %r", self._map_size >> 20, largest)

    def _clear(self) -> None:
        self._pending.clear()
        with self._env.begin(write=True) as txn:
            for table in self.tables:
                txn.drop(self._dbs[table], delete=False)

    def _drop_keys(self, batch: dict[tuple[str, bytes], bytes | None]) -> None:
        # A write that cannot be stored must still not leave an old value readable;
        # if even that fails, the only safe cache is an empty one.
        try:
            with self._env.begin(write=True) as txn:
                for table, key in batch:
                    txn.delete(key, db=self._dbs[table])
        except lmdb.Error:
            log.exception("cache could not drop keys; emptying every table")
            self.clear()

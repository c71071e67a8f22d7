"""The cache interface, its in-memory backend, and typed tables on top of it.

`CacheBackend` is the small interface every cache backend keeps (get, get_many,
put, delete, fill, generation); `MemoryCache` is the simplest one, a dict, used
by the contract tests beside the LMDB backend. `CacheTable` gives a module a
typed view of one table: msgpack-encoded msgspec Structs under int/str keys.

Cost of `CacheTable`: one msgpack encode per put and decode per hit (about a
microsecond for a small Struct).
"""

from __future__ import annotations

import abc
import struct
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")
Missing = object()  # "no pending write for this key", distinct from a pending delete (None)


class CacheBackend(abc.ABC):
    """Shared bookkeeping: tables, generations (for stale-fill protection) and hit counts."""

    def __init__(self, tables: Iterable[str]) -> None:
        self.tables = tuple(dict.fromkeys(tables))
        self._generations = dict.fromkeys(self.tables, 0)
        self.hits = dict.fromkeys(self.tables, 0)
        self.misses = dict.fromkeys(self.tables, 0)

    def open(self) -> None: ...

    def close(self) -> None: ...

    def flush(self) -> None: ...

    @abc.abstractmethod
    def get(self, table: str, key: bytes) -> bytes | None:
        """The value, or None on a miss; reads must see every put/delete already made."""

    def get_multi(self, lookups: Iterable[tuple[str, bytes]]) -> list[bytes | None]:
        """Values from several tables at once; LMDB answers them in one read transaction."""
        return [self.get(table, key) for table, key in lookups]

    def get_many(self, table: str, keys: Iterable[bytes]) -> list[bytes | None]:
        return self.get_multi((table, key) for key in keys)

    @abc.abstractmethod
    def scan(self, table: str, prefix: bytes, limit: int, start: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Up to `limit` (key, value) pairs whose key starts with `prefix`, in key order,
        from `start` (inclusive; default the prefix itself). Sees every put/delete made."""

    @abc.abstractmethod
    def entries(self, table: str) -> int:
        """How many keys the table holds."""

    @abc.abstractmethod
    def _store(self, table: str, key: bytes, value: bytes | None) -> None:
        """Write (or delete, for None) one key; the backend may batch it."""

    def put(self, table: str, key: bytes, value: bytes) -> None:
        """Store a value that came from a write to the source of truth."""
        self.bump(table)
        self._store(table, key, value)

    def delete(self, table: str, key: bytes) -> None:
        """Invalidate after a change in the source of truth."""
        self.bump(table)
        self._store(table, key, None)

    def generation(self, table: str) -> int:
        """Take this before reading SQLite on a miss; hand it to fill()."""
        return self._generations[table]

    def fill(self, table: str, key: bytes, value: bytes, generation: int) -> bool:
        """Store what a miss read from SQLite, unless the table changed meanwhile."""
        if self._generations[table] != generation:
            return False
        self._store(table, key, value)
        return True

    def bump(self, table: str) -> None:
        self._generations[table] += 1

    def clear(self) -> None:
        """Empty every table (it all refills from the source of truth); fills begun before
        this are refused, as after any change."""
        for table in self.tables:
            self.bump(table)
        self._clear()

    @abc.abstractmethod
    def _clear(self) -> None:
        """Drop every entry of every table, pending writes included."""

    def _count(self, table: str, value: bytes | None) -> bytes | None:
        if value is None:
            self.misses[table] += 1
        else:
            self.hits[table] += 1
        return value

    def hit_ratio(self) -> float:
        hits, misses = sum(self.hits.values()), sum(self.misses.values())
        return hits / (hits + misses) if hits + misses else 0.0


class MemoryCache(CacheBackend):
    """A dict per table: the reference backend for the contract tests."""

    def __init__(self, tables: Iterable[str]) -> None:
        super().__init__(tables)
        self._data: dict[str, dict[bytes, bytes]] = {name: {} for name in self.tables}

    def get(self, table: str, key: bytes) -> bytes | None:
        return self._count(table, self._data[table].get(key))

    def scan(self, table: str, prefix: bytes, limit: int, start: bytes | None = None) -> list[tuple[bytes, bytes]]:
        low = max(prefix, start or prefix)
        keys = sorted(key for key in self._data[table] if key.startswith(prefix) and key >= low)[:limit]
        return [(key, self._data[table][key]) for key in keys]

    def entries(self, table: str) -> int:
        return len(self._data[table])

    def _store(self, table: str, key: bytes, value: bytes | None) -> None:
        if value is None:
            self._data[table].pop(key, None)
        else:
            self._data[table][key] = value

    def _clear(self) -> None:
        for entries in self._data.values():
            entries.clear()


_INT_KEYS = {n: struct.Struct(f">{n}Q").pack for n in range(1, 5)}


def encode_key(key: int | str | tuple) -> bytes:
    """Ints as 8 big-endian bytes (so LMDB's byte order is numeric order), strings as UTF-8."""
    if type(key) is int:
        return key.to_bytes(8, "big")
    if type(key) is tuple and len(key) in _INT_KEYS and all(type(part) is int for part in key):
        return _INT_KEYS[len(key)](*key)  # the hot case (user, post ...): one C call
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    # In a tuple, strings carry their length so ("ab", "c") and ("a", "bc") differ.
    parts = []
    for part in key:
        if isinstance(part, str):
            encoded = part.encode()
            parts.append(len(encoded).to_bytes(2, "big") + encoded)
        else:
            parts.append(encode_key(part))
    return b"".join(parts)


class CacheTable(Generic[T]):
    """A typed table: `table.get(user_id) -> Profile | None`."""

    def __init__(self, cache: CacheBackend, name: str, value_type: type[T]) -> None:
        self.cache = cache
        self.name = name
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(value_type).decode

    def get(self, key) -> T | None:
        raw = self.cache.get(self.name, encode_key(key))
        return None if raw is None else self._decode(raw)

    def lookup(self, key) -> tuple[str, bytes]:
        """This table's part of a `cache.get_multi` call; decode the answer with `decode`."""
        return self.name, encode_key(key)

    def decode(self, raw: bytes | None) -> T | None:
        return None if raw is None else self._decode(raw)

    def get_many(self, keys: Iterable) -> list[T | None]:
        raws = self.cache.get_many(self.name, [encode_key(k) for k in keys])
        return [None if raw is None else self._decode(raw) for raw in raws]

    async def get_or_load(self, keys: Iterable, load: Callable[[list], Awaitable[dict]]) -> dict:
        """Cache-aside for a batch: hits from the cache, one `load(missing)` for the rest,
        which are then filled (unless the table changed while loading)."""
        keys = list(dict.fromkeys(keys))
        found = {key: value for key, value in zip(keys, self.get_many(keys)) if value is not None}
        missing = [key for key in keys if key not in found]
        if missing:
            generation = self.generation()
            loaded = await load(missing)
            for key, value in loaded.items():
                self.fill(key, value, generation)
            found.update(loaded)
        return found

    def put(self, key, value: T) -> None:
        self.cache.put(self.name, encode_key(key), self._encode(value))

    def delete(self, key) -> None:
        self.cache.delete(self.name, encode_key(key))

    def generation(self) -> int:
        return self.cache.generation(self.name)

    def fill(self, key, value: T, generation: int) -> bool:
        return self.cache.fill(self.name, encode_key(key), self._encode(value), generation)

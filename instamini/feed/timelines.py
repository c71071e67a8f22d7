"""Timelines in LMDB: one key per entry, (owner, reversed post id), newest first.

The idea: a home timeline is a list of post ids kept per user, newest first. In a
B+tree that is one key per entry, `owner (8 bytes) + (2^63-1 - post_id) (8 bytes)`:
reversing the id makes LMDB's ascending key order newest-first, so a page is a
cursor that starts at "just older than the cursor" and reads forward a few keys.
Delivering the same post twice writes the same key: deliveries are idempotent,
which is what makes at-least-once fan-out safe. The value says who wrote the post
(8 bytes) and whether it is a reel (1 byte), so unfollowing can remove an author's
entries and the reels feed can skip photos without loading posts.

The same structure holds each author's own recent posts (`author_posts`): the
source for the profile grid, for pulling at read time, and for rebuilding.

Per list there is a small state entry: when it was built and last read (a list
never built, or not read for `inactive_days`, gets no fan-out and is rebuilt when
read) and roughly how long it is (so it is trimmed to `timeline_size`).

A rebuild reads its sources (in a cluster, over the network) before it replaces the
list, and a delivery may land in between: while `rebuilding(owner)` holds, what is
added to that list is kept aside too and merged into the replacement, so it is not lost.

Cost: a delivery is two small puts; a page is one cursor walk of limit+1 keys.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import msgspec

from ..stores.cache_base import CacheBackend, CacheTable, encode_key

NEWEST = (1 << 63) - 1
KIND_BYTES = {"post": b"p", "reel": b"r"}
KINDS = {value[0]: kind for kind, value in KIND_BYTES.items()}
# A list is trimmed back to its bound once it is this much longer: trimming is a
# walk over the whole list, so it is done now and then, not on every delivery.
TRIM_SLACK = 0.1


class Entry(NamedTuple):
    post_id: int
    author_id: int
    kind: str


class ListState(msgspec.Struct, array_like=True):
    built_ms: int
    seen_ms: int
    size: int


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class PostLists:
    """Lists of post entries per owner in one cache table, with their states in another."""

    def __init__(self, cache: CacheBackend, table: str, bound: int) -> None:
        self.cache, self.table, self.bound = cache, table, bound
        self.states: CacheTable[ListState] = CacheTable(cache, f"{table}_state", ListState)
        # Owners whose list is being rebuilt: what was added to it meanwhile, and how many rebuilds run.
        self._arriving: dict[int, list[Entry]] = {}
        self._rebuilds: Counter[int] = Counter()

    @staticmethod
    def tables(table: str) -> tuple[str, str]:
        return table, f"{table}_state"

    def _key(self, owner: int, post_id: int) -> bytes:
        return encode_key((owner, NEWEST - post_id))

    # -- reading -----------------------------------------------------------------------

    def page(self, owner: int, before: int, limit: int) -> list[Entry]:
        """Up to `limit` entries of `owner`'s list with post ids below `before`, newest first."""
        start = self._key(owner, before - 1) if before > 0 else None
        if start is None:
            return []
        rows = self.cache.scan(self.table, encode_key(owner), limit, start)
        return [self._entry(key, value) for key, value in rows]

    def _entry(self, key: bytes, value: bytes) -> Entry:
        return Entry(NEWEST - int.from_bytes(key[8:16], "big"), int.from_bytes(value[:8], "big"), KINDS[value[8]])

    def state(self, owner: int) -> ListState | None:
        return self.states.get(owner)

    def states_of(self, owners: list[int]) -> list[ListState | None]:
        return self.states.get_many(owners)

    # -- writing -----------------------------------------------------------------------

    def add(self, owner: int, entries: list[Entry], state: ListState | None = None) -> None:
        """Put entries (idempotent) and keep the list within its bound."""
        if owner in self._arriving:
            self._arriving[owner].extend(entries)
        for entry in entries:
            self.cache.put(self.table, self._key(owner, entry.post_id), entry.author_id.to_bytes(8, "big") + KIND_BYTES[entry.kind])
        state = state or self.state(owner)
        if state is None:
            return
        state.size += len(entries)
        if state.size > self.bound * (1 + TRIM_SLACK):
            state.size = self._trim(owner)
        self.states.put(owner, state)

    def _trim(self, owner: int) -> int:
        rows = self.cache.scan(self.table, encode_key(owner), self.bound * 2 + 1)
        for key, _ in rows[self.bound :]:
            self.cache.delete(self.table, key)
        return min(len(rows), self.bound)

    def remove(self, owner: int, post_id: int) -> None:
        self.cache.delete(self.table, self._key(owner, post_id))

    def remove_author(self, owner: int, author_id: int) -> int:
        """Delete every entry by `author_id` from `owner`'s list; returns how many."""
        removed = 0
        for key, value in self.cache.scan(self.table, encode_key(owner), self.bound * 2 + 1):
            if int.from_bytes(value[:8], "big") == author_id:
                self.cache.delete(self.table, key)
                removed += 1
        return removed

    @contextmanager
    def rebuilding(self, owner: int) -> Iterator[None]:
        """Around a rebuild: entries added to the list meanwhile survive its `replace`."""
        self._arriving.setdefault(owner, [])
        self._rebuilds[owner] += 1
        try:
            yield
        finally:
            self._rebuilds[owner] -= 1
            if not self._rebuilds[owner]:
                del self._rebuilds[owner], self._arriving[owner]

    def is_rebuilding(self, owner: int) -> bool:
        return owner in self._arriving

    def replace(self, owner: int, entries: list[Entry]) -> None:
        """Make `entries` the whole list (a rebuild), marked as just built and read."""
        if self._arriving.get(owner):
            entries = sorted(set(entries) | set(self._arriving[owner]), reverse=True)
        for key, _ in self.cache.scan(self.table, encode_key(owner), self.bound * 2 + 1):
            self.cache.delete(self.table, key)
        stamp = now_ms()
        self.add(owner, entries[: self.bound], ListState(built_ms=stamp, seen_ms=stamp, size=0))

    def mark_seen(self, owner: int, state: ListState, stamp: int) -> None:
        state.seen_ms = stamp
        self.states.put(owner, state)

    def forget(self, owner: int) -> None:
        """Drop the state: the list is rebuilt on its next read."""
        self.states.delete(owner)

"""The cache contract, run against both backends, plus LMDB-only behaviour."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from instamini.stores.cache import CLEAN_MARKER, LmdbCache
from instamini.stores.cache_base import CacheBackend, CacheTable, MemoryCache, encode_key

TABLES = ("profiles", "sessions")

# Collect-time mark so the conftest fixture pins async tests to asyncio (see test_meta.py).
pytestmark = pytest.mark.anyio


@pytest.fixture(params=["lmdb", "memory"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CacheBackend]:
    backend: CacheBackend
    if request.param == "lmdb":
        backend = LmdbCache(tmp_path / "cache", TABLES)
    else:
        backend = MemoryCache(TABLES)
    backend.open()
    yield backend
    backend.close()


def lmdb_raw(cache: LmdbCache, table: str, key: bytes) -> bytes | None:
    """What LMDB itself holds, bypassing the pending writes."""
    with cache._env.begin(db=cache._dbs[table]) as txn:
        return txn.get(key)


# -- contract: every backend ---------------------------------------------------------------


def test_get_miss_is_none(cache: CacheBackend) -> None:
    assert cache.get("profiles", b"nobody") is None
    assert cache.get_many("sessions", [b"x", b"y"]) == [None, None]


def test_put_then_get(cache: CacheBackend) -> None:
    cache.put("profiles", b"k", b"v1")
    assert cache.get("profiles", b"k") == b"v1"
    assert cache.get("sessions", b"k") is None  # tables are separate
    cache.put("profiles", b"k", b"v2")
    assert cache.get("profiles", b"k") == b"v2"
    assert cache.entries("profiles") == 1
    assert cache.entries("sessions") == 0


async def test_clear_empties_every_table_pending_writes_too_and_refuses_older_fills(cache: CacheBackend) -> None:
    cache.put("profiles", b"old", b"1")
    cache.flush()
    cache.put("sessions", b"pending", b"2")  # not flushed yet inside a loop
    generation = cache.generation("profiles")
    cache.clear()
    assert cache.get("profiles", b"old") is None and cache.get("sessions", b"pending") is None
    cache.flush()
    assert cache.entries("profiles") == cache.entries("sessions") == 0
    assert not cache.fill("profiles", b"old", b"stale", generation)  # read before the clear
    assert cache.fill("profiles", b"new", b"3", cache.generation("profiles"))
    assert cache.get("profiles", b"new") == b"3"


async def test_put_then_get_inside_event_loop(cache: CacheBackend) -> None:
    cache.put("profiles", b"k", b"v1")
    assert cache.get("profiles", b"k") == b"v1"  # before any flush
    cache.put("profiles", b"k", b"v2")
    assert cache.get("profiles", b"k") == b"v2"
    cache.flush()
    assert cache.get("profiles", b"k") == b"v2"
    cache.put("profiles", b"k", b"v3")
    assert cache.get("profiles", b"k") == b"v3"
    await asyncio.sleep(0)  # one loop tick: the scheduled flush runs
    assert cache.get("profiles", b"k") == b"v3"
    assert cache.entries("profiles") == 1


def test_delete_hides_at_once(cache: CacheBackend) -> None:
    cache.put("profiles", b"k", b"v")
    cache.delete("profiles", b"k")
    assert cache.get("profiles", b"k") is None
    cache.delete("profiles", b"never-there")  # deleting a missing key is fine
    assert cache.entries("profiles") == 0


async def test_delete_hides_at_once_inside_event_loop(cache: CacheBackend) -> None:
    cache.put("profiles", b"k", b"v")
    cache.flush()
    cache.delete("profiles", b"k")
    assert cache.get("profiles", b"k") is None  # pending delete wins over the stored value
    assert cache.get_many("profiles", [b"k"]) == [None]
    cache.flush()
    assert cache.get("profiles", b"k") is None
    cache.put("profiles", b"k", b"again")
    assert cache.get("profiles", b"k") == b"again"


def test_get_many_mixed_in_order(cache: CacheBackend) -> None:
    for key in (b"a", b"c", b"e"):
        cache.put("sessions", key, key.upper())
    keys = [b"e", b"b", b"a", b"d", b"c", b"a"]
    assert cache.get_many("sessions", keys) == [b"E", None, b"A", None, b"C", b"A"]
    assert cache.get_many("sessions", []) == []


async def test_get_many_mixes_stored_and_pending(cache: CacheBackend) -> None:
    cache.put("sessions", b"a", b"A")
    cache.put("sessions", b"b", b"B")
    cache.flush()
    cache.put("sessions", b"c", b"C")  # pending
    cache.delete("sessions", b"b")  # pending delete
    cache.put("sessions", b"a", b"A2")  # pending overwrite
    expected = [b"A2", None, b"C", None]
    assert cache.get_many("sessions", [b"a", b"b", b"c", b"d"]) == expected
    cache.flush()
    assert cache.get_many("sessions", [b"a", b"b", b"c", b"d"]) == expected


async def test_scan_gives_a_prefix_in_key_order_with_pending_writes(cache: CacheBackend) -> None:
    for user, post in [(1, 5), (1, 3), (2, 1), (1, 9), (0, 7)]:
        cache.put("profiles", encode_key((user, post)), post.to_bytes(1, "big"))
    cache.delete("profiles", encode_key((1, 9)))  # pending in the LMDB backend: the scan must see it
    found = cache.scan("profiles", encode_key(1), limit=10)
    assert [key for key, _ in found] == [encode_key((1, 3)), encode_key((1, 5))]
    assert cache.scan("profiles", encode_key(1), limit=1) == [(encode_key((1, 3)), b"\x03")]
    assert cache.scan("profiles", encode_key(1), limit=10, start=encode_key((1, 4))) == [(encode_key((1, 5)), b"\x05")]
    assert cache.scan("profiles", encode_key(3), limit=10) == []
    assert cache.scan("profiles", encode_key(2), limit=10, start=encode_key((2, 2))) == []


def test_fill_refuses_stale_generation(cache: CacheBackend) -> None:
    generation = cache.generation("profiles")
    # ...a reader misses and queries SQLite; meanwhile a writer updates and invalidates:
    cache.delete("profiles", b"k")
    assert cache.generation("profiles") != generation
    assert cache.fill("profiles", b"k", b"old", generation) is False
    assert cache.get("profiles", b"k") is None

    generation = cache.generation("profiles")
    assert cache.fill("profiles", b"k", b"fresh", generation) is True
    assert cache.get("profiles", b"k") == b"fresh"
    # a fill does not move the generation, and other tables do not move it either
    assert cache.generation("profiles") == generation
    cache.put("sessions", b"s", b"1")
    assert cache.fill("profiles", b"k2", b"v2", generation) is True
    assert cache.get("profiles", b"k2") == b"v2"
    cache.put("profiles", b"other", b"x")
    assert cache.fill("profiles", b"k3", b"v3", generation) is False
    assert cache.get("profiles", b"k3") is None


def test_hit_and_miss_counters(cache: CacheBackend) -> None:
    assert cache.hit_ratio() == 0.0
    cache.put("profiles", b"k", b"v")
    cache.get("profiles", b"k")  # hit
    cache.get("profiles", b"nope")  # miss
    cache.get_many("profiles", [b"k", b"k", b"x"])  # 2 hits, 1 miss
    cache.get("sessions", b"nope")  # miss
    assert cache.hits == {"profiles": 3, "sessions": 0}
    assert cache.misses == {"profiles": 2, "sessions": 1}
    assert cache.hit_ratio() == pytest.approx(3 / 6)


class Profile(msgspec.Struct):
    user_id: int
    name: str
    tags: list[str] = []
    bio: str | None = None


@pytest.mark.parametrize("key", [42, 2**62, "alice", "émile", (7, 9), (7, "x"), ("a", 1, "b")])
def test_cache_table_round_trips_structs(cache: CacheBackend, key) -> None:
    table = CacheTable(cache, "profiles", Profile)
    value = Profile(user_id=7, name="Alice", tags=["a", "b"], bio="hi")
    assert table.get(key) is None
    table.put(key, value)
    got = table.get(key)
    assert got == value and isinstance(got, Profile)
    assert table.get_many([key, "missing", key]) == [value, None, value]
    table.delete(key)
    assert table.get(key) is None
    generation = table.generation()
    assert table.fill(key, Profile(user_id=1, name="B"), generation) is True
    assert table.get(key) == Profile(user_id=1, name="B")
    table.put("bump", value)
    assert table.fill(key, Profile(user_id=2, name="C"), generation) is False
    assert table.get(key) == Profile(user_id=1, name="B")


async def test_cache_table_in_event_loop(cache: CacheBackend) -> None:
    table = CacheTable(cache, "profiles", Profile)
    table.put(5, Profile(user_id=5, name="five"))
    table.put((5, "x"), Profile(user_id=6, name="six"))
    assert table.get(5) == Profile(user_id=5, name="five")
    assert table.get((5, "x")) == Profile(user_id=6, name="six")
    cache.flush()
    assert table.get_many([(5, "x"), 5, 6]) == [Profile(user_id=6, name="six"), Profile(user_id=5, name="five"), None]


def test_encode_key_orders_ints_numerically() -> None:
    numbers = [0, 1, 2, 9, 10, 255, 256, 65535, 65536, 2**32, 2**40 + 3, 2**63 - 1]
    encoded = [encode_key(n) for n in numbers]
    assert encoded == sorted(encoded)
    assert all(len(e) == 8 for e in encoded)
    assert encode_key("abc") == b"abc"
    assert encode_key((1, "a")) == (1).to_bytes(8, "big") + b"\x00\x01a"
    # Strings inside tuples carry their length, so different splits never collide.
    assert encode_key(("ab", "c")) != encode_key(("a", "bc"))


# -- LMDB only -----------------------------------------------------------------------------------


def test_lmdb_int_keys_sort_numerically(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path / "cache", TABLES)
    cache.open()
    table = CacheTable(cache, "profiles", Profile)
    numbers = [300, 2, 2**40, 1, 256, 65535, 10, 2**63 - 1, 0]
    for n in numbers:
        table.put(n, Profile(user_id=n, name=str(n)))
    cache.flush()
    with cache._env.begin(db=cache._dbs["profiles"]) as txn:
        stored = [int.from_bytes(key, "big") for key, _ in txn.cursor()]
    assert stored == sorted(numbers)
    cache.close()


async def test_lmdb_writes_are_batched_per_tick(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path / "cache", TABLES)
    cache.open()
    try:
        cache.put("profiles", b"a", b"1")
        cache.put("profiles", b"b", b"2")
        assert lmdb_raw(cache, "profiles", b"a") is None  # not written yet: batched
        assert cache.get("profiles", b"a") == b"1"  # but readable
        await asyncio.sleep(0)  # the flush scheduled for this tick runs
        assert lmdb_raw(cache, "profiles", b"a") == b"1"
        assert lmdb_raw(cache, "profiles", b"b") == b"2"
        cache.delete("profiles", b"a")
        assert lmdb_raw(cache, "profiles", b"a") == b"1"
        assert cache.get("profiles", b"a") is None
        cache.flush()
        assert lmdb_raw(cache, "profiles", b"a") is None
    finally:
        cache.close()


def test_lmdb_writes_through_without_loop(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path / "cache", TABLES)
    cache.open()
    cache.put("profiles", b"a", b"1")
    assert lmdb_raw(cache, "profiles", b"a") == b"1"
    cache.close()


def test_lmdb_survives_clean_close(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    cache = LmdbCache(path, TABLES)
    cache.open()
    assert cache.wiped_on_open is False
    cache.put("profiles", b"k", b"v")
    cache.put("sessions", b"s", b"t")
    cache.close()
    assert (path / CLEAN_MARKER).exists()
    cache.close()  # closing twice is harmless

    again = LmdbCache(path, TABLES)
    again.open()
    assert again.wiped_on_open is False
    assert not (path / CLEAN_MARKER).exists()  # a crash from now on must be noticed
    assert again.get("profiles", b"k") == b"v"
    assert again.get("sessions", b"s") == b"t"
    again.close()


async def test_lmdb_clean_close_inside_loop_flushes_pending(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    cache = LmdbCache(path, TABLES)
    cache.open()
    cache.put("profiles", b"k", b"v")  # pending: the tick has not ended
    cache.close()
    await asyncio.sleep(0)  # the scheduled flush runs on a closed cache: must be harmless
    again = LmdbCache(path, TABLES)
    again.open()
    assert again.get("profiles", b"k") == b"v"
    again.close()


def test_lmdb_unclean_stop_wipes_on_next_open(tmp_path: Path) -> None:
    path = tmp_path / "cache"
    cache = LmdbCache(path, TABLES)
    cache.open()
    cache.put("profiles", b"k", b"v")
    cache.flush()
    cache._env.close()  # the process died: no clean-shutdown marker

    again = LmdbCache(path, TABLES)
    again.open()
    assert again.wiped_on_open is True
    assert again.get("profiles", b"k") is None
    assert again.entries("profiles") == 0
    again.put("profiles", b"k", b"new")
    again.close()

    third = LmdbCache(path, TABLES)
    third.open()
    assert third.wiped_on_open is False
    assert third.get("profiles", b"k") == b"new"
    third.close()


def test_lmdb_full_map_grows_then_evicts(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path / "cache", TABLES, map_size_mb=1, max_map_size_mb=4)
    cache.open()
    value_size = 64 << 10
    count = 320  # 20 MiB of values into a map that may grow to 4 MiB
    for i in range(count):
        table = "profiles" if i % 4 else "sessions"
        key = i.to_bytes(8, "big")
        value = i.to_bytes(4, "big") * (value_size // 4)
        cache.put(table, key, value)
        assert cache.get(table, key) == value  # every put is readable right after
    assert cache._env.info()["map_size"] == 4 << 20  # grew to the maximum
    assert cache.evictions > 0
    # recent puts are still there, evicted ones read as misses, never as wrong values
    last = count - 1
    assert cache.get("profiles", last.to_bytes(8, "big")) == last.to_bytes(4, "big") * (value_size // 4)
    for i in range(count):
        table = "profiles" if i % 4 else "sessions"
        got = cache.get(table, i.to_bytes(8, "big"))
        assert got is None or got == i.to_bytes(4, "big") * (value_size // 4)
    cache.put("profiles", b"after", b"small")
    assert cache.get("profiles", b"after") == b"small"
    cache.close()


async def test_lmdb_full_map_inside_event_loop(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path / "cache", TABLES, map_size_mb=1, max_map_size_mb=4)
    cache.open()
    try:
        value = b"x" * (64 << 10)
        for i in range(320):
            cache.put("profiles", i.to_bytes(8, "big"), value)
            await asyncio.sleep(0)  # one batch per tick, as in the server
        assert cache.evictions > 0
        cache.put("profiles", b"later", b"v")
        await asyncio.sleep(0)
        assert lmdb_raw(cache, "profiles", b"later") == b"v"
        assert cache.get("profiles", b"later") == b"v"
    finally:
        cache.close()


async def test_lmdb_batch_too_big_for_map_drops_old_values(tmp_path: Path) -> None:
    cache = LmdbCache(tmp_path / "cache", TABLES, map_size_mb=1, max_map_size_mb=2)
    cache.open()
    try:
        cache.put("sessions", b"k", b"old")
        cache.flush()
        # One tick's batch larger than the largest map: it cannot be stored...
        cache.put("sessions", b"k", b"new")
        for i in range(64):
            cache.put("profiles", i.to_bytes(8, "big"), b"x" * (64 << 10))
        cache.flush()  # must not raise
        # ...but the old value must not come back either.
        assert cache.get("sessions", b"k") is None
        cache.put("sessions", b"k", b"newer")
        cache.flush()
        assert cache.get("sessions", b"k") == b"newer"
    finally:
        cache.close()

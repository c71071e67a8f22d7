"""EdgeCache on its own: LRU eviction under a byte bound, atomic fills, single flight, sha256 checks, restarts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import anyio
import pytest

from instamini.edge import ContentMismatch, EdgeCache, TooLargeToCache
from instamini.errors import NotFound
from tests.edge.helpers import media_file


class Fetcher:
    """A Fetch over a dict of files that counts its calls; `gate`, when set, holds every fetch."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, name: str):
        self.calls.append(name)
        body = self.files[name]
        yield body[: len(body) // 2]
        if self.gate is not None:
            await self.gate.wait()
        yield body[len(body) // 2 :]


def files_on_disk(root: Path) -> dict[str, int]:
    """Cached files by name with their sizes; the temp folder apart."""
    return {p.name: p.stat().st_size for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"}


@pytest.fixture
async def cache(tmp_path):
    cache = EdgeCache(tmp_path / "edge", max_bytes=300)
    await cache.open()
    yield cache
    await cache.close()


async def fill(cache: EdgeCache, fetcher: Fetcher, size: int = 100, seed: int = 0) -> str:
    name, body = media_file(size, seed)
    fetcher.files[name] = body
    blob = await cache.get_or_fetch(name, fetcher)
    blob.close()
    return name


def key(name: str) -> str:
    return name.split(".")[0]


async def test_a_miss_fetches_once_then_hits_from_disk_or_memory(cache):
    fetcher = Fetcher()
    name = await fill(cache, fetcher)
    blob = await cache.get_or_fetch(name, fetcher)
    assert blob.body == fetcher.files[name] and blob.size == 100
    assert fetcher.calls == [name]
    assert (cache.hits, cache.misses, cache.fetched_bytes) == (1, 1, 100)
    assert cache.stats()["hit_ratio"] == 0.5 and cache.stats()["memory_entries"] == 1
    assert files_on_disk(cache.directory) == {key(name): 100}


async def test_least_recently_used_goes_first(cache):
    fetcher = Fetcher()
    a, b, c = [await fill(cache, fetcher, seed=seed) for seed in (1, 2, 3)]  # 300 bytes: full
    await cache.get_or_fetch(a, fetcher)  # a is now the most recently used
    d = await fill(cache, fetcher, seed=4)
    assert cache.cached() == [key(c), key(a), key(d)]  # b, the least recently used, went
    assert cache.evictions == 1 and await cache.lookup(b) is None
    assert set(files_on_disk(cache.directory)) == {key(c), key(a), key(d)}


async def test_the_size_bound_holds_on_disk_and_in_the_index(cache):
    fetcher = Fetcher()
    for seed in range(40):
        await fill(cache, fetcher, size=17 + (seed * 37) % 120, seed=seed)
        assert cache.total_bytes <= cache.max_bytes
        assert sum(files_on_disk(cache.directory).values()) == cache.total_bytes
    assert cache.evictions > 0


async def test_a_file_larger_than_the_cache_is_refused_and_leaves_nothing(cache):
    fetcher = Fetcher()
    name, body = media_file(301)
    fetcher.files[name] = body
    with pytest.raises(TooLargeToCache):
        await cache.get_or_fetch(name, fetcher)
    assert cache.cached() == [] and files_on_disk(cache.directory) == {}
    assert list((cache.directory / "tmp").iterdir()) == []


async def test_wrong_bytes_are_refused_and_not_cached(cache):
    name, _ = media_file(100, seed=1)
    _, other = media_file(100, seed=2)
    liar = Fetcher({name: other})
    with pytest.raises(ContentMismatch):
        await cache.get_or_fetch(name, liar)
    assert cache.refused == 1 and cache.cached() == [] and files_on_disk(cache.directory) == {}
    assert list((cache.directory / "tmp").iterdir()) == []
    honest = Fetcher({name: media_file(100, seed=1)[1]})
    assert (await cache.get_or_fetch(name, honest)).body == honest.files[name]  # the next try is not poisoned


@pytest.mark.parametrize("name", ["../../etc/passwd", "g" * 64 + ".webp", "a" * 64 + ".html", "A" * 64 + ".jpg", "a" * 64])
async def test_hostile_names_never_reach_the_fetch(cache, name):
    fetcher = Fetcher()
    with pytest.raises(NotFound):
        await cache.get_or_fetch(name, fetcher)
    assert fetcher.calls == []


async def test_concurrent_misses_share_one_fetch(cache):
    fetcher = Fetcher()
    name, body = media_file(100)
    fetcher.files[name] = body
    fetcher.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get_or_fetch(name, fetcher)) for _ in range(20)]
    await anyio.wait_all_tasks_blocked()  # every caller is now waiting on the one fetch
    assert fetcher.calls == [name] and cache.coalesced == 19 and cache.stats()["fetching"] == 1
    fetcher.gate.set()
    blobs = await asyncio.gather(*waiting)
    assert all(blob.body == body for blob in blobs)
    assert fetcher.calls == [name] and cache.misses == 20


async def test_a_failed_fetch_reaches_every_waiter_and_caches_nothing(cache):
    name, _ = media_file(100)

    async def broken(_name):
        yield b"half"
        raise ConnectionError("origin went away")

    waiting = [asyncio.create_task(cache.get_or_fetch(name, broken)) for _ in range(3)]
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(result, ConnectionError) for result in results)
    assert cache.cached() == [] and files_on_disk(cache.directory) == {}
    assert list((cache.directory / "tmp").iterdir()) == []


async def test_a_caller_that_leaves_does_not_cancel_the_fetch_for_others(cache):
    fetcher = Fetcher()
    name, body = media_file(100)
    fetcher.files[name] = body
    fetcher.gate = asyncio.Event()
    leaving = asyncio.create_task(cache.get_or_fetch(name, fetcher))
    staying = asyncio.create_task(cache.get_or_fetch(name, fetcher))
    await anyio.wait_all_tasks_blocked()
    leaving.cancel()
    fetcher.gate.set()
    assert (await staying).body == body
    assert leaving.cancelled() and fetcher.calls == [name]


async def test_a_fill_in_flight_is_only_a_temp_file(cache):
    fetcher = Fetcher()
    name, body = media_file(100)
    fetcher.files[name] = body
    fetcher.gate = asyncio.Event()
    waiting = asyncio.create_task(cache.get_or_fetch(name, fetcher))
    await anyio.wait_all_tasks_blocked()
    assert files_on_disk(cache.directory) == {}  # nothing under a real name until it is whole and checked
    assert len(list((cache.directory / "tmp").iterdir())) == 1
    fetcher.gate.set()
    (await waiting).close()
    assert files_on_disk(cache.directory) == {key(name): 100}
    assert list((cache.directory / "tmp").iterdir()) == []


async def test_restart_keeps_files_order_and_bound(tmp_path):
    fetcher = Fetcher()
    first = EdgeCache(tmp_path / "edge", max_bytes=300)
    await first.open()
    a, b, c = [await fill(first, fetcher, seed=seed) for seed in (1, 2, 3)]
    await first.get_or_fetch(a, fetcher)  # order now b, c, a
    await first.close()
    (tmp_path / "edge" / "tmp" / "put-crashed.part").write_bytes(b"half a file")  # a fill a crash cut short

    again = EdgeCache(tmp_path / "edge", max_bytes=300)
    await again.open()
    assert again.cached() == [key(b), key(c), key(a)] and again.total_bytes == 300
    assert list((tmp_path / "edge" / "tmp").iterdir()) == []
    calls = len(fetcher.calls)
    assert (await again.get_or_fetch(c, fetcher)).body == fetcher.files[c]
    assert len(fetcher.calls) == calls and again.hits == 1  # served from what the first run left
    await again.close()

    smaller = EdgeCache(tmp_path / "edge", max_bytes=150)
    await smaller.open()
    assert smaller.cached() == [key(c)] and smaller.total_bytes == 100  # c was used last, before this restart
    assert set(files_on_disk(tmp_path / "edge")) == {key(c)}
    await smaller.close()


async def test_large_files_stream_from_an_open_file_that_survives_eviction(tmp_path):
    cache = EdgeCache(tmp_path / "edge", max_bytes=4 << 20)
    await cache.open()
    fetcher = Fetcher()
    name, body = media_file(3 << 20)  # over 1 MiB: streamed, not read whole
    fetcher.files[name] = body
    (await cache.get_or_fetch(name, fetcher)).close()
    blob = await cache.get_or_fetch(name, fetcher)
    assert blob.body is None and blob.size == len(body)
    await fill(cache, fetcher, size=2 << 20, seed=9)  # evicts the big file while `blob` is open
    assert key(name) not in cache.cached() and key(name) not in files_on_disk(cache.directory)
    streamed = b"".join([chunk async for chunk in blob.chunks(1000, len(body))])
    assert streamed == body[1000:]
    await cache.close()


async def test_memory_holds_only_small_files_within_its_bound(tmp_path):
    cache = EdgeCache(tmp_path / "edge", max_bytes=10_000, memory_bytes=250, memory_file_bytes=120)
    await cache.open()
    fetcher = Fetcher()
    small = [await fill(cache, fetcher, size=100, seed=seed) for seed in range(3)]
    big = await fill(cache, fetcher, size=200, seed=7)
    for name in [*small, big]:
        (await cache.get_or_fetch(name, fetcher)).close()
    stats = cache.stats()
    assert stats["memory_entries"] == 2 and stats["memory_bytes"] == 200  # the 200-byte file is over 120: disk only
    os.remove(cache.directory / key(small[2])[:2] / key(small[2]))
    assert (await cache.get_or_fetch(small[2], fetcher)).body == fetcher.files[small[2]]  # from memory, no disk read
    await cache.close()

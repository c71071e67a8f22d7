"""The edge cache: a bounded, least-recently-used cache of content-addressed media on disk.

The idea: a media name is the sha256 of its bytes, so a copy never goes stale. The
cache needs no expiry and no invalidation, only a bound on its size: files are kept
until their total passes `max_bytes`, then the least recently used go first. Bytes
from an origin are hashed on the way in and refused unless their sha256 is their
name, so a wrong or corrupt answer cannot poison the cache. Concurrent misses for
one file share one origin fetch (single flight). A fetch is written to a temp file,
fsynced and renamed, so a crash never leaves a half file under a real name. Small
files are also kept in memory: a hot thumbnail is served without touching the disk.

The cost: the access order lives in memory (an OrderedDict move per hit). A clean
close writes it back as the files' mtimes and `open` rebuilds it from them, so after
a crash the order is the fetch order. A file being streamed outlives its eviction
until the response ends (an open file keeps its bytes), and fetches in flight sit in
temp files outside the bound. A miss waits for the whole file before its first byte.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing, suppress
from functools import partial
from pathlib import Path
from typing import BinaryIO

from anyio import to_thread

from ..media.serve import CHUNK, WHOLE_BELOW, parse_name
from ..stores.blobs import CHUNK_BYTES, Spool, validate_key

Fetch = Callable[[str], AsyncGenerator[bytes, None]]
"""Given a media name (`<sha256>.<ext>`), an async generator of its bytes from an origin."""


class EdgeError(Exception):
    """Base class of what the cache raises about a fetch."""


class ContentMismatch(EdgeError):
    """The fetched bytes' sha256 is not the name they were fetched under: refused, not cached."""


class TooLargeToCache(EdgeError):
    """The file is larger than the whole cache: serve it some other way."""


class CachedBlob:
    """One cached file, ready to serve: `body` when it was read whole, else an open file.

    An open file keeps its bytes even if eviction deletes its name meanwhile. `chunks`
    closes it at the end; call `close` when no body is sent (HEAD, 304, 416).
    """

    __slots__ = ("key", "size", "body", "_file")

    def __init__(self, key: str, size: int, body: bytes | None, file: BinaryIO | None = None) -> None:
        self.key, self.size, self.body, self._file = key, size, body, file

    async def chunks(self, start: int, end: int) -> AsyncGenerator[bytes, None]:
        if self.body is not None:
            yield self.body[start:end]
            return
        try:
            for offset in range(start, end, CHUNK):
                # pread: no shared file position, so nothing can move it between two reads.
                yield await to_thread.run_sync(os.pread, self._file.fileno(), min(CHUNK, end - offset), offset)
        finally:
            self.close()

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            file.close()


def _open(path: Path) -> tuple[int, bytes | None, BinaryIO | None] | None:
    """(size, bytes if small, open file if not), or None if the file is gone. Blocks."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return None
    size = os.fstat(file.fileno()).st_size
    if size < WHOLE_BELOW:  # one thread hop for size and bytes, as the blob store does
        with file:
            return size, file.read(), None
    return size, None, file


def _place(temp: Path, final: Path) -> None:
    final.parent.mkdir(exist_ok=True)
    # The file was fsynced before this rename: the name never points at half the bytes.
    # The directory is not fsynced: a rename lost in a power cut is only a miss.
    os.replace(temp, final)


class EdgeCache:
    """`await cache.open()`, then `blob = await cache.get_or_fetch(name, fetch)`."""

    def __init__(
        self, directory: Path, max_bytes: int, *, memory_bytes: int = 64 << 20, memory_file_bytes: int = 256 << 10
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.directory, self.max_bytes, self.memory_bytes = Path(directory), max_bytes, memory_bytes
        self.memory_file_bytes = min(memory_file_bytes, WHOLE_BELOW - 1)  # only files read whole are at hand
        self._tmp = self.directory / "tmp"
        self._sizes: OrderedDict[str, int] = OrderedDict()  # every cached file, least recently used first
        self._hot: OrderedDict[str, bytes] = OrderedDict()  # the bytes of some small ones, in the same order
        self._pins: Counter[str] = Counter()  # keys eviction must skip: being opened, or awaited by a miss
        self._fills: dict[str, asyncio.Task] = {}
        # Placing and deleting names take turns, so an eviction never deletes a file fetched again meanwhile.
        self._disk = asyncio.Lock()
        self.total_bytes = self.hot_bytes = 0
        self.hits = self.misses = self.coalesced = self.evictions = self.refused = self.too_large = 0
        self.fetched_bytes = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    async def open(self) -> None:
        """Adopt the files a previous run left, oldest mtime first, and enforce the bound."""
        for key, size in await to_thread.run_sync(self._scan):
            self._insert(key, size)
        await self._evict()  # a restart with a smaller bound

    def _scan(self) -> list[tuple[str, int]]:
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():  # fills cut short by a crash
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
        found = []
        for folder in self.directory.iterdir():
            if folder == self._tmp or not folder.is_dir():
                continue
            for file in folder.iterdir():
                with suppress(ValueError, FileNotFoundError):
                    if validate_key(file.name)[:2] == folder.name:  # anything else is not ours: left alone
                        stat = file.stat()
                        found.append((stat.st_mtime_ns, file.name, stat.st_size))
        return [(key, size) for _, key, size in sorted(found)]

    async def close(self) -> None:
        """Stop fetches in flight and write the access order back as mtimes."""
        fills = list(self._fills.values())
        for fill in fills:
            fill.cancel()
        await asyncio.gather(*fills, return_exceptions=True)
        async with self._disk:
            await to_thread.run_sync(self._save_order, list(self._sizes))

    def _save_order(self, keys: list[str]) -> None:
        now = time.time_ns()
        for age, key in enumerate(reversed(keys)):  # most recent first: the newest mtime
            with suppress(FileNotFoundError):
                stamp = now - age * 1000
                os.utime(self._path(key), ns=(stamp, stamp))

    async def lookup(self, name: str) -> CachedBlob | None:
        """The cached copy of `name` (counted as a use), or None; never fetches."""
        key, _ = parse_name(name)
        return await self._open_cached(key)

    async def get_or_fetch(self, name: str, fetch: Fetch) -> CachedBlob:
        """The cached copy of `name`, fetched first on a miss (at most one fetch per name at once).

        Raises NotFound for a name that is not `<sha256>.<webp|jpg|mp4>` before calling
        `fetch`; ContentMismatch or TooLargeToCache for what `fetch` gave; and whatever
        `fetch` raised, to every caller that waited for it.
        """
        key, _ = parse_name(name)
        blob = await self._open_cached(key)
        if blob is not None:
            self.hits += 1
            return blob
        self.misses += 1
        self._pins[key] += 1  # the file we wait for is not evicted before we open it
        try:
            fill = self._fills.get(key)
            if fill is None:
                fill = self._fills[key] = asyncio.create_task(self._fill(key, name, fetch))
                fill.add_done_callback(partial(self._fill_done, key))
            else:
                self.coalesced += 1
            # shield: a caller that goes away does not cancel the fetch that others wait for.
            await asyncio.shield(fill)
            blob = await self._open_cached(key)
        finally:
            self._unpin(key)
        if blob is None:
            raise EdgeError(f"{name} was deleted from {self.directory} as it was fetched")
        return blob

    def _fill_done(self, key: str, fill: asyncio.Task) -> None:
        self._fills.pop(key, None)
        if not fill.cancelled():
            fill.exception()  # retrieved: a fetch whose callers all left must not log "never retrieved"

    async def _fill(self, key: str, name: str, fetch: Fetch) -> None:
        spool = await to_thread.run_sync(Spool, self._tmp)
        try:
            size = await self._spool(spool, fetch(name))
            digest = await to_thread.run_sync(spool.finish)
            if digest != key:
                self.refused += 1
                raise ContentMismatch(f"the origin's bytes for {name} have sha256 {digest}: refused")
            async with self._disk:
                await to_thread.run_sync(_place, spool.path, self._path(key))
                self._insert(key, size)
        except BaseException:
            spool.file.close()  # blocking on purpose: an await here could be cancelled
            spool.path.unlink(missing_ok=True)
            raise
        self.fetched_bytes += size
        await self._evict()

    async def _spool(self, spool: Spool, chunks: AsyncGenerator[bytes, None]) -> int:
        size, batch, batch_len = 0, [], 0
        async with aclosing(chunks):  # an abandoned fetch closes its origin response
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_bytes:
                    self.too_large += 1
                    raise TooLargeToCache(f"larger than the whole cache ({self.max_bytes} bytes)")
                batch.append(chunk)
                batch_len += len(chunk)
                if batch_len >= CHUNK_BYTES:  # one thread hop per MiB, not per network read
                    await to_thread.run_sync(spool.write, batch)
                    batch, batch_len = [], 0
        await to_thread.run_sync(spool.write, batch)
        return size

    async def _open_cached(self, key: str) -> CachedBlob | None:
        body = self._hot.get(key)
        if body is not None:
            self._hot.move_to_end(key)
            self._sizes.move_to_end(key)
            return CachedBlob(key, len(body), body)
        if key not in self._sizes:
            return None
        self._sizes.move_to_end(key)
        self._pins[key] += 1  # eviction must not delete the name while a thread opens it
        try:
            opened = await to_thread.run_sync(_open, self._path(key))
        finally:
            self._unpin(key)
        if opened is None:  # deleted behind our back: forget it, it is a miss
            self._forget(key)
            return None
        size, body, file = opened
        if body is not None and size <= self.memory_file_bytes:
            self._remember(key, body)
        return CachedBlob(key, size, body, file)

    def _insert(self, key: str, size: int) -> None:
        self.total_bytes += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        self._sizes.move_to_end(key)

    def _remember(self, key: str, body: bytes) -> None:
        if key in self._hot or len(body) > self.memory_bytes:
            return
        self._hot[key] = body
        self.hot_bytes += len(body)
        while self.hot_bytes > self.memory_bytes:
            _, dropped = self._hot.popitem(last=False)
            self.hot_bytes -= len(dropped)

    def _forget(self, key: str) -> None:
        self.total_bytes -= self._sizes.pop(key, 0)
        self.hot_bytes -= len(self._hot.pop(key, b""))

    def _unpin(self, key: str) -> None:
        self._pins[key] -= 1
        if self._pins[key] <= 0:
            del self._pins[key]

    async def _evict(self) -> None:
        excess = self.total_bytes - self.max_bytes
        if excess <= 0:
            return
        victims, freed = [], 0
        for key, size in self._sizes.items():  # least recently used first
            if freed >= excess:
                break
            if not self._pins[key]:  # pinned ones are in use: the bound waits for them
                victims.append(key)
                freed += size
        if not victims:
            return
        for key in victims:
            self._forget(key)
        self.evictions += len(victims)
        async with self._disk:
            # A victim fetched again while we waited for the lock is a new file: keep it.
            doomed = [key for key in victims if key not in self._sizes]
            await to_thread.run_sync(self._delete, doomed)

    def _delete(self, keys: list[str]) -> None:
        for key in keys:
            with suppress(FileNotFoundError):
                self._path(key).unlink()

    def cached(self) -> list[str]:
        """The cached keys, least recently used first (reading this is not a use)."""
        return list(self._sizes)

    def stats(self) -> dict:
        lookups = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_ratio": self.hits / lookups if lookups else 0.0,
            "coalesced": self.coalesced,
            "evictions": self.evictions,
            "refused": self.refused,
            "too_large": self.too_large,
            "fetched_bytes": self.fetched_bytes,
            "fetching": len(self._fills),
            "entries": len(self._sizes),
            "bytes": self.total_bytes,
            "max_bytes": self.max_bytes,
            "memory_entries": len(self._hot),
            "memory_bytes": self.hot_bytes,
        }

"""The simplest blob backend: three dicts in memory.

Read this before ``FileBlobStore``: it is the whole contract of ``BlobStore``
with nothing in the way (no temp files, no fsync, no SQLite). A key is the
sha256 of the bytes, identical content is stored once, a reference count says
who still uses a blob, and ``gc`` drops unused blobs once their grace period
is over. Everything is lost when the process exits, so it serves tests and
experiments, not production.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterable
from pathlib import Path

from instamini.stores.blobs import (
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    check_args,
    validate_key,
)


class MemoryBlobStore(BlobStore):
    """Blobs as ``bytes`` in a dict; counts and write times in two more dicts."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._refs: dict[str, int] = {}
        self._created: dict[str, float] = {}  # epoch seconds of the latest put

    async def open(self) -> None:
        pass  # nothing to prepare

    async def close(self) -> None:
        pass  # nothing to release; the blobs stay until the object goes away

    async def put_stream(
        self, chunks: AsyncIterable[bytes], max_bytes: int | None = None
    ) -> BlobInfo:
        hasher, parts, size = hashlib.sha256(), [], 0
        async for chunk in chunks:
            size += len(chunk)
            # Check as the bytes arrive, so an oversized upload is refused
            # before it has all been buffered.
            if max_bytes is not None and size > max_bytes:
                raise BlobTooLarge(f"blob is larger than {max_bytes} bytes")
            hasher.update(chunk)
            parts.append(bytes(chunk))
        key = hasher.hexdigest()
        # Identical content: the stored copy is kept, the new one dropped.
        self._data.setdefault(key, b"".join(parts))
        self._refs.setdefault(key, 0)
        # Restart the grace period, as FileBlobStore does: someone just sent it.
        self._created[key] = time.time()
        return BlobInfo(key=key, size=size)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        validate_key(key)
        check_args(start=start, end=end)
        if key not in self._data:
            raise BlobNotFound(key)
        return self._data[key][start:end]

    async def read_if_smaller(self, key: str, limit: int) -> tuple[int, bytes | None] | None:
        data = self._data.get(validate_key(key))
        if data is None:
            return None
        return len(data), (data if len(data) < limit else None)

    async def size(self, key: str) -> int | None:
        data = self._data.get(validate_key(key))
        return None if data is None else len(data)

    def path(self, key: str) -> Path | None:
        validate_key(key)
        return None  # nothing on disk, so callers fall back to read()

    async def incref(self, key: str, n: int = 1) -> int:
        validate_key(key)
        check_args(n=n)
        if key not in self._data:
            raise BlobNotFound(key)
        self._refs[key] += n
        return self._refs[key]

    async def decref(self, key: str, n: int = 1, floor: int = 0) -> int:
        validate_key(key)
        check_args(n=n)
        check_args(n=floor)
        if key not in self._refs:
            return 0  # unknown blob: nothing left to release
        # Never below `floor` (0 at least): a double release must not make the count negative.
        self._refs[key] = max(self._refs[key] - n, min(self._refs[key], floor))
        return self._refs[key]

    async def refcount(self, key: str) -> int:
        return self._refs.get(validate_key(key), 0)

    async def gc(self, grace_seconds: float = 3600, now: float | None = None) -> int:
        cutoff = (time.time() if now is None else now) - grace_seconds
        doomed = [
            key
            for key, refs in self._refs.items()
            if refs == 0 and self._created[key] < cutoff
        ]
        for key in doomed:
            del self._data[key], self._refs[key], self._created[key]
        return len(doomed)

    async def stats(self) -> dict:
        return {"count": len(self._data), "total_bytes": sum(map(len, self._data.values()))}

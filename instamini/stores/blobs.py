"""Content-addressed blob storage for photos and their resized copies.

The idea: a blob's key is the sha256 of its bytes (64 lowercase hex characters).
So identical uploads are stored once, and a file never changes once written
(its name *is* its content): caches may keep it forever, and no reader sees a
half-written file. Posts share files, so reference counts say when one may go:
posts ``incref`` the keys they use and ``decref`` them when done, and ``gc``
deletes unreferenced blobs once a grace period is over (so a fresh upload, not
yet attached to a post, survives).

The cost: every byte is hashed once; every new blob pays an fsync of the file
and of its directory (a finished put survives a power cut); every reference
change is one small synchronous SQLite write.

Layout: ``root/<k[0:2]>/<k[2:4]>/<k>`` (two shard levels keep directories
small); counts and write times in ``root/refs.sqlite``. ``MemoryBlobStore`` in
``blobs_memory.py`` is the same contract without a disk: read it first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import aclosing, suppress
from pathlib import Path
from typing import Protocol, runtime_checkable

import aiosqlite
import anyio
import msgspec
from anyio import to_thread

# Bytes gathered from a stream per trip to a worker thread: big enough that thread
# hand-offs are rare, small enough that memory stays flat whatever the blob size.
CHUNK_BYTES = 1 << 20
_KEY_RE = re.compile(r"[0-9a-f]{64}")


class BlobError(Exception):
    """Base class for blob store errors."""


class BlobTooLarge(BlobError):
    """The stream sent more than ``max_bytes``."""


class BlobNotFound(BlobError):
    """No blob is stored under this key."""


class InvalidBlobKey(BlobError, ValueError):
    """The key is not 64 lowercase hex characters."""


class BlobInfo(msgspec.Struct, frozen=True):
    key: str
    size: int


def validate_key(key: object) -> str:
    """Return ``key`` if it is a sha256 hex digest, else raise InvalidBlobKey."""
    # This stops path traversal: "../../etc/passwd" never reaches the filesystem.
    # fullmatch, because a pattern ending in "$" also accepts a trailing newline.
    if not isinstance(key, str) or _KEY_RE.fullmatch(key) is None:
        raise InvalidBlobKey(f"invalid blob key: {key!r}")
    return key


def check_args(n: int = 0, start: int = 0, end: int | None = None) -> None:
    if n < 0 or start < 0 or (end is not None and end < 0):
        raise ValueError("counts and offsets must be >= 0")


@runtime_checkable
class BlobStore(Protocol):
    """What every backend offers; subclass it to share the last three methods."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def put_stream(
        self, chunks: AsyncIterable[bytes], max_bytes: int | None = None
    ) -> BlobInfo: ...
    async def read(self, key: str, start: int = 0, end: int | None = None) -> bytes: ...
    async def read_if_smaller(self, key: str, limit: int) -> tuple[int, bytes | None] | None: ...
    async def size(self, key: str) -> int | None: ...
    def path(self, key: str) -> Path | None: ...
    async def incref(self, key: str, n: int = 1) -> int: ...
    async def decref(self, key: str, n: int = 1, floor: int = 0) -> int: ...
    async def refcount(self, key: str) -> int: ...
    async def gc(self, grace_seconds: float = 3600, now: float | None = None) -> int: ...
    async def stats(self) -> dict: ...

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def put_bytes(self, data: bytes) -> BlobInfo:
        async def one_chunk() -> AsyncIterator[bytes]:
            yield data

        return await self.put_stream(one_chunk())

    async def put_file(self, path: Path) -> BlobInfo:
        """Store a copy of a file on disk (an encoder's output, say); ``path`` is left as is."""
        async def file_chunks() -> AsyncIterator[bytes]:
            async with await anyio.open_file(path, "rb") as f:
                while chunk := await f.read(CHUNK_BYTES):
                    yield chunk

        async with aclosing(file_chunks()) as chunks:  # closes the file even on error
            return await self.put_stream(chunks)


class Spool:
    """A temp file filled and hashed in worker threads (puts here, fills of the edge cache). Every method blocks."""

    def __init__(self, tmp_dir: Path) -> None:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="put-", suffix=".part")
        self.path, self.file, self.hash = Path(name), os.fdopen(fd, "wb"), hashlib.sha256()

    def write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.hash.update(chunk)
            self.file.write(chunk)

    def finish(self) -> str:
        # fsync before the rename, or a crash could leave the right name on missing bytes.
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return self.hash.hexdigest()


def fsync_dir(path: Path) -> None:
    # A new name in a directory is only durable once the directory is fsynced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_if_smaller(path: Path, limit: int) -> tuple[int, bytes | None] | None:
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            return size, (f.read() if size < limit else None)
    except FileNotFoundError:
        return None


def _read_range(path: Path, start: int, end: int | None) -> bytes:
    with path.open("rb") as f:
        f.seek(start)
        return f.read() if end is None else f.read(max(0, end - start))


class FileBlobStore(BlobStore):
    """Blobs as files under ``root``; counts and write times in SQLite."""

    def __init__(self, root: Path) -> None:
        self.root, self._tmp = Path(root), Path(root) / "tmp"
        self._db: aiosqlite.Connection | None = None
        # Makes put's "row + file", incref's "check file + count" and gc's
        # "delete file + row" exclusive, so gc never deletes a blob being reused.
        self._lock = anyio.Lock()

    async def open(self) -> None:
        if self._db is not None:
            return
        await to_thread.run_sync(self._clear_tmp)
        # isolation_level=None: autocommit, every statement is its own transaction.
        db = await aiosqlite.connect(self.root / "refs.sqlite", isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")  # counts survive a power cut
            await db.execute(
                "CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, size INTEGER,"
                " refs INTEGER NOT NULL DEFAULT 0, created_at REAL)"
            )
        except BaseException:
            await db.close()  # its worker thread would otherwise keep the process alive
            raise
        self._db = db

    def _clear_tmp(self) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.iterdir():  # uploads cut short by a crash
            if not leftover.is_dir():
                leftover.unlink(missing_ok=True)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    def _opened(self) -> aiosqlite.Connection:
        if self._db is None:
            raise BlobError("blob store is not open")
        return self._db

    async def _sql(self, sql: str, params: tuple = ()) -> list:
        return list(await self._opened().execute_fetchall(sql, params))

    def _file_for(self, key: str) -> Path:
        key = validate_key(key)
        return self.root / key[0:2] / key[2:4] / key

    async def put_stream(
        self, chunks: AsyncIterable[bytes], max_bytes: int | None = None
    ) -> BlobInfo:
        self._opened()  # fail on a closed store before reading the stream
        spool = await to_thread.run_sync(Spool, self._tmp)
        try:
            size, batch, batch_len = 0, [], 0
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise BlobTooLarge(f"blob is larger than {max_bytes} bytes")
                batch.append(chunk)
                batch_len += len(chunk)
                if batch_len >= CHUNK_BYTES:
                    await to_thread.run_sync(spool.write, batch)
                    batch, batch_len = [], 0
            await to_thread.run_sync(spool.write, batch)
            key = await to_thread.run_sync(spool.finish)
            async with self._lock:
                # Row first, file second: a crash in between leaves a row with no
                # file (gc drops it), never a file nobody knows about. A re-put
                # refreshes created_at so the uploader gets a full grace period.
                await self._sql(
                    "INSERT INTO blobs (key, size, refs, created_at) VALUES (?, ?, 0, ?)"
                    " ON CONFLICT(key) DO UPDATE SET created_at = excluded.created_at",
                    (key, size, time.time()),
                )
                await to_thread.run_sync(self._place, spool.path, key)
        except BaseException:
            spool.file.close()  # blocking on purpose: an await here could be cancelled
            spool.path.unlink(missing_ok=True)
            raise
        return BlobInfo(key=key, size=size)

    def _place(self, temp: Path, key: str) -> None:
        final = self._file_for(key)
        if final.exists():  # same bytes already stored: keep the old file
            temp.unlink()
            return
        for directory in (final.parent.parent, final.parent):
            if not directory.exists():
                directory.mkdir(exist_ok=True)
                fsync_dir(directory.parent)
        os.replace(temp, final)
        fsync_dir(final.parent)

    async def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        file = self._file_for(key)
        check_args(start=start, end=end)
        try:
            return await to_thread.run_sync(_read_range, file, start, end)
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    async def read_if_smaller(self, key: str, limit: int) -> tuple[int, bytes | None] | None:
        # One thread hop for "how big, and the bytes if small": serving a thumbnail
        # then costs one hop instead of a stat and a read.
        return await to_thread.run_sync(_read_if_smaller, self._file_for(key), limit)

    async def size(self, key: str) -> int | None:
        file = self._file_for(key)
        try:
            return (await to_thread.run_sync(file.stat)).st_size
        except FileNotFoundError:
            return None

    def path(self, key: str) -> Path | None:
        file = self._file_for(key)
        return file if file.is_file() else None

    async def incref(self, key: str, n: int = 1) -> int:
        check_args(n=n)
        async with self._lock:
            size = await self.size(key)
            if size is None:
                raise BlobNotFound(key)
            # An upsert, so a file without a row (crash, restored backup) is adopted.
            rows = await self._sql(
                "INSERT INTO blobs (key, size, refs, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET refs = refs + excluded.refs RETURNING refs",
                (key, size, n, time.time()),
            )
        return rows[0][0]

    async def decref(self, key: str, n: int = 1, floor: int = 0) -> int:
        """Take `n` references off, never below `floor` (0: a double release must not drive the
        count negative; a moved shard's release keeps what the shards still here need). It
        never raises a count."""
        validate_key(key)
        check_args(n=n)
        check_args(n=floor)
        rows = await self._sql(
            "UPDATE blobs SET refs = MAX(refs - ?, MIN(refs, ?)) WHERE key = ? RETURNING refs", (n, floor, key)
        )
        return rows[0][0] if rows else 0  # unknown blob: nothing left to release

    async def refcount(self, key: str) -> int:
        rows = await self._sql("SELECT refs FROM blobs WHERE key = ?", (validate_key(key),))
        return rows[0][0] if rows else 0

    async def gc(self, grace_seconds: float = 3600, now: float | None = None) -> int:
        cutoff = (time.time() if now is None else now) - grace_seconds
        async with self._lock:
            rows = await self._sql("SELECT key, refs, created_at FROM blobs")
            doomed = [key for key, refs, created in rows if refs == 0 and created < cutoff]
            # Files first, rows second: a crash in between leaves rows with no file,
            # which the next run drops. Checking every row's file makes gc O(blobs).
            deleted, gone = await to_thread.run_sync(self._sweep, [r[0] for r in rows], doomed)
            # One statement (json_each unpacks the list): one transaction, one fsync.
            sql = "DELETE FROM blobs WHERE key IN (SELECT value FROM json_each(?))"
            await self._sql(sql, (json.dumps(gone),))
        return deleted

    def _sweep(self, keys: list[str], doomed: list[str]) -> tuple[int, list[str]]:
        """Delete the doomed files; return how many, and every key now without a file."""
        deleted = 0
        for key in doomed:
            with suppress(FileNotFoundError):
                self._file_for(key).unlink()
                deleted += 1
        return deleted, [key for key in keys if not self._file_for(key).is_file()]

    async def stats(self) -> dict:
        rows = await self._sql("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs")
        return {"count": rows[0][0], "total_bytes": rows[0][1]}

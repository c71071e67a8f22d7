"""Contract tests for the blob stores: the first part runs against both backends (so the
memory store really stands in for the file store), then disk-only tests. gc takes ``now``,
so no test ever sleeps."""

from __future__ import annotations

import hashlib
import sqlite3
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from instamini.stores.blobs import (
    BlobError, BlobInfo, BlobNotFound, BlobStore, BlobTooLarge, FileBlobStore, InvalidBlobKey,
)
from instamini.stores.blobs_memory import MemoryBlobStore

HOUR = 3600.0
UNKNOWN = "0" * 64  # well-formed, but nothing is stored under it
EMPTY = {"count": 0, "total_bytes": 0}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.fixture(params=["file", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    s = FileBlobStore(tmp_path / "blobs") if request.param == "file" else MemoryBlobStore()
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def file_store(tmp_path: Path) -> AsyncIterator[FileBlobStore]:
    s = FileBlobStore(tmp_path / "blobs")
    await s.open()
    yield s
    await s.close()


def blob_files(root: Path) -> list[Path]:
    """Every regular file under root except the SQLite database and its WAL."""
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("refs.sqlite")]


# --- the contract, for every backend -----------------------------------------


async def test_key_is_sha256_of_content(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)
    data = b"a photo, honestly"
    assert await store.put_bytes(data) == BlobInfo(key=sha(data), size=len(data))
    # Chunk boundaries (and empty chunks) do not change the key.
    info = await store.put_stream(stream(b"hello ", b"", b"wor", b"ld"))
    assert info == BlobInfo(key=sha(b"hello world"), size=11)
    assert await store.read(info.key) == b"hello world"


async def test_identical_content_is_stored_once(store: BlobStore) -> None:
    first = await store.put_bytes(b"same bytes")
    second = await store.put_stream(stream(b"same ", b"bytes"))
    other = await store.put_bytes(b"other bytes")
    assert first == second and other.key != first.key
    assert await store.stats() == {"count": 2, "total_bytes": 10 + 11}


async def test_read_if_smaller_gives_the_size_and_small_bytes(store: BlobStore) -> None:
    key = (await store.put_bytes(b"0123456789")).key
    assert await store.read_if_smaller(key, 11) == (10, b"0123456789")
    assert await store.read_if_smaller(key, 10) == (10, None)
    assert await store.read_if_smaller("0" * 64, 100) is None
    with pytest.raises(InvalidBlobKey):
        await store.read_if_smaller("../x", 100)


async def test_read_whole_and_ranges(store: BlobStore) -> None:
    data = bytes(range(100))
    key = (await store.put_bytes(data)).key
    assert await store.read(key) == data
    assert await store.read(key, 10, 20) == data[10:20]  # end is exclusive
    assert await store.read(key, 90) == data[90:]
    assert await store.read(key, 5, 5) == b""
    assert await store.read(key, 95, 500) == data[95:]  # end past the blob: clipped
    assert await store.read(key, 500) == b""  # start past the blob: nothing
    with pytest.raises(ValueError):
        await store.read(key, -1)
    with pytest.raises(BlobNotFound):
        await store.read(UNKNOWN)


async def test_size_and_exists(store: BlobStore) -> None:
    key = (await store.put_bytes(b"12345")).key
    assert await store.size(key) == 5 and await store.exists(key) is True
    assert await store.size(UNKNOWN) is None and await store.exists(UNKNOWN) is False
    if isinstance(store, MemoryBlobStore):
        assert store.path(key) is None  # nothing on disk to hand out


async def test_put_file_copies_and_leaves_source(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "encoded.webp"
    data = bytes(range(256)) * 10_000  # 2.5 MB: more than one read chunk
    source.write_bytes(data)
    assert await store.put_file(source) == BlobInfo(key=sha(data), size=len(data))
    assert await store.read(sha(data)) == data
    assert source.read_bytes() == data


async def test_too_large_is_refused_and_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(BlobTooLarge):
        await store.put_stream(stream(b"x" * 60, b"x" * 60), max_bytes=100)
    assert not await store.exists(sha(b"x" * 120))
    assert await store.stats() == EMPTY
    if isinstance(store, FileBlobStore):
        assert list((store.root / "tmp").iterdir()) == []
        assert blob_files(store.root) == []
    info = await store.put_stream(stream(b"y" * 100), max_bytes=100)  # exactly the limit
    assert info.size == 100 and await store.exists(info.key)


async def test_zero_byte_blob(store: BlobStore) -> None:
    info = await store.put_stream(stream())
    assert info == BlobInfo(key=sha(b""), size=0)
    assert await store.exists(info.key) and await store.size(info.key) == 0
    assert await store.read(info.key) == b""


async def test_refcount_up_down_and_floor_at_zero(store: BlobStore) -> None:
    key = (await store.put_bytes(b"shared")).key
    assert await store.refcount(key) == 0
    assert await store.incref(key) == 1
    assert await store.incref(key, 2) == 3
    assert await store.decref(key) == 2
    assert await store.decref(key, 5) == 0  # never below zero
    assert await store.decref(key) == 0
    assert await store.incref(key) == 1  # and back up from the floor
    for call in (store.incref, store.decref):
        with pytest.raises(ValueError):
            await call(key, -1)
    assert await store.refcount(key) == 1


async def test_incref_of_missing_blob_raises(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.incref(UNKNOWN)
    assert await store.refcount(UNKNOWN) == 0
    assert await store.decref(UNKNOWN) == 0  # releasing an unknown blob is a no-op


async def test_gc_honours_grace_period_and_refs(store: BlobStore) -> None:
    kept = (await store.put_bytes(b"in a post")).key
    loose = (await store.put_bytes(b"uploaded, never posted")).key
    await store.incref(kept)
    # Just written: the unreferenced blob is still inside its grace period.
    assert await store.gc(grace_seconds=HOUR, now=time.time()) == 0
    assert await store.exists(loose)
    # Two hours later the unreferenced one goes; the referenced one stays.
    later = time.time() + 2 * HOUR
    assert await store.gc(grace_seconds=HOUR, now=later) == 1
    assert not await store.exists(loose)
    assert await store.read(kept) == b"in a post"
    # Once its last reference is dropped, it goes too.
    await store.decref(kept)
    assert await store.gc(grace_seconds=HOUR, now=later) == 1
    assert not await store.exists(kept) and await store.stats() == EMPTY
    assert await store.gc(grace_seconds=HOUR, now=later) == 0
    # A collected blob can simply be stored again.
    assert (await store.put_bytes(b"in a post")).key == kept
    assert await store.read(kept) == b"in a post"


BAD_KEYS = [
    "../../etc/passwd", "/etc/passwd", "../" * 21 + "a",  # the last is 64 characters long
    "A" * 64, "ab" * 31, "a" * 65, "g" * 64, "", 12345,  # uppercase, 62, 65, not hex, ...
    "a" * 64 + "\n",  # a regex ending in "$" would let this through
]


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_invalid_keys_are_rejected_by_every_method(store: BlobStore, bad: str) -> None:
    valid = (await store.put_bytes(b"ok")).key
    for name in ("read", "size", "exists", "incref", "decref", "refcount"):
        with pytest.raises(InvalidBlobKey):
            await getattr(store, name)(bad)
            pytest.fail(f"{name} accepted {bad!r}")
    with pytest.raises(InvalidBlobKey):
        await store.read(bad, 0, 1)
    with pytest.raises(InvalidBlobKey):
        store.path(bad)
    assert issubclass(InvalidBlobKey, ValueError) and issubclass(InvalidBlobKey, BlobError)
    assert await store.refcount(valid) == 0  # nothing was touched
    assert await store.stats() == {"count": 1, "total_bytes": 2}


# --- file backend only -------------------------------------------------------


async def test_file_lands_at_sharded_path_once(file_store: FileBlobStore) -> None:
    key = (await file_store.put_bytes(b"sharded")).key
    await file_store.put_bytes(b"sharded")
    expected = file_store.root / key[0:2] / key[2:4] / key
    assert file_store.path(key) == expected
    assert expected.read_bytes() == b"sharded"
    assert blob_files(file_store.root) == [expected]  # one file, temp files all gone
    assert file_store.path(UNKNOWN) is None


async def test_leftover_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    leftover = tmp_path / "blobs" / "tmp" / "put-crashed.part"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half an upload")
    s = FileBlobStore(tmp_path / "blobs")
    await s.open()
    await s.close()
    assert not leftover.exists() and leftover.parent.is_dir()


async def test_reopened_store_keeps_blobs_and_refcounts(tmp_path: Path) -> None:
    first = FileBlobStore(tmp_path / "blobs")
    await first.open()
    key = (await first.put_bytes(b"durable")).key
    await first.incref(key, 2)
    await first.close()
    second = FileBlobStore(tmp_path / "blobs")
    await second.open()
    try:  # aiosqlite's thread would keep the test process alive if left open
        assert await second.refcount(key) == 2
        assert await second.read(key) == b"durable"
        assert await second.stats() == {"count": 1, "total_bytes": 7}
    finally:
        await second.close()


async def test_refcount_db_is_wal_with_one_row_per_blob(file_store: FileBlobStore) -> None:
    key = (await file_store.put_bytes(b"row")).key
    with sqlite3.connect(file_store.root / "refs.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = db.execute("SELECT key, size, refs, created_at FROM blobs").fetchall()
    assert [r[:3] for r in rows] == [(key, 3, 0)] and abs(rows[0][3] - time.time()) < 60


async def test_file_without_row_is_adopted(file_store: FileBlobStore) -> None:
    key = (await file_store.put_bytes(b"orphan")).key

    def lose_row() -> None:  # what a crash between writing file and row would leave
        with sqlite3.connect(file_store.root / "refs.sqlite") as db:
            db.execute("DELETE FROM blobs WHERE key = ?", (key,))

    lose_row()
    assert await file_store.incref(key) == 1  # incref adopts it...
    lose_row()
    assert (await file_store.put_bytes(b"orphan")).key == key  # ...and so does put
    assert await file_store.stats() == {"count": 1, "total_bytes": 6}
    assert len(blob_files(file_store.root)) == 1


async def test_gc_drops_rows_whose_file_is_gone(file_store: FileBlobStore) -> None:
    key = (await file_store.put_bytes(b"vanishes")).key
    await file_store.incref(key)
    file_store.path(key).unlink()
    assert await file_store.gc(grace_seconds=HOUR, now=time.time()) == 0  # no file deleted
    assert await file_store.stats() == EMPTY and await file_store.refcount(key) == 0


async def test_large_stream_is_written_in_pieces(file_store: FileBlobStore) -> None:
    chunk, count = 2 * 1024 * 1024, 10  # 20 MB in 2 MB chunks

    async def big() -> AsyncIterator[bytes]:
        for i in range(count):
            yield bytes([i]) * chunk  # made on demand, never all at once

    expected = sha(b"".join(bytes([i]) * chunk for i in range(count)))
    tracemalloc.start()
    try:
        info = await file_store.put_stream(big(), max_bytes=count * chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info == BlobInfo(key=expected, size=count * chunk)
    assert file_store.path(info.key).stat().st_size == count * chunk
    assert await file_store.read(info.key, 9 * chunk - 1, 9 * chunk + 2) == b"\x08\x09\x09"
    assert peak < 4 * chunk  # a couple of chunks at a time, far below the 20 MB total


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    s = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobError):
        await s.put_bytes(b"too early")
    assert not (tmp_path / "blobs").exists()

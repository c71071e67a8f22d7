"""Contract tests for the blob stores.

Every test in the first part runs against both backends, so the memory store
really is a stand-in for the file store. Tests that need a disk come after.
Time never passes for real here: gc takes ``now`` instead.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from instamini.stores.blobs import (
    BlobError,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    FileBlobStore,
    InvalidBlobKey,
)
from instamini.stores.blobs_memory import MemoryBlobStore

# conftest.py marks coroutine tests after collection; anyio 4.16 then rebuilds
# those items with a fresh callspec, dropping parametrized fixtures (the two
# backends here). Marking the module at collection time avoids that rebuild.
pytestmark = pytest.mark.anyio

HOUR = 3600.0
UNKNOWN = "0" * 64  # well-formed, but nothing is stored under it


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


def files_under(root: Path) -> list[Path]:
    """Every regular file under root except the SQLite database and its WAL."""
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("refs.sqlite")]


# --- the contract, for every backend ---------------------------------------


async def test_store_satisfies_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


async def test_key_is_sha256_of_content(store: BlobStore) -> None:
    data = b"a photo, honestly"
    info = await store.put_bytes(data)
    assert info == BlobInfo(key=sha(data), size=len(data))
    assert await store.read(info.key) == data


async def test_chunked_stream_gives_same_key_as_whole_bytes(store: BlobStore) -> None:
    info = await store.put_stream(stream(b"hello ", b"", b"wor", b"ld"))
    assert info == BlobInfo(key=sha(b"hello world"), size=11)
    assert await store.read(info.key) == b"hello world"


async def test_identical_content_is_stored_once(store: BlobStore) -> None:
    first = await store.put_bytes(b"same bytes")
    second = await store.put_stream(stream(b"same ", b"bytes"))
    other = await store.put_bytes(b"other bytes")
    assert first == second
    assert other.key != first.key
    assert await store.stats() == {"count": 2, "total_bytes": len(b"same bytes") + len(b"other bytes")}


async def test_read_whole_and_ranges(store: BlobStore) -> None:
    data = bytes(range(100))
    key = (await store.put_bytes(data)).key
    assert await store.read(key) == data
    assert await store.read(key, 10, 20) == data[10:20]  # end is exclusive
    assert await store.read(key, 90) == data[90:]
    assert await store.read(key, 0, 1) == data[:1]
    assert await store.read(key, 5, 5) == b""
    assert await store.read(key, 95, 500) == data[95:]  # end past the blob: clipped
    assert await store.read(key, 500) == b""  # start past the blob: nothing
    with pytest.raises(ValueError):
        await store.read(key, -1)


async def test_read_missing_raises(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.read(UNKNOWN)


async def test_size_and_exists(store: BlobStore) -> None:
    key = (await store.put_bytes(b"12345")).key
    assert await store.size(key) == 5
    assert await store.exists(key) is True
    assert await store.size(UNKNOWN) is None
    assert await store.exists(UNKNOWN) is False


async def test_put_file_copies_and_leaves_source(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "encoded.webp"
    data = bytes(range(256)) * 10_000  # 2.5 MB: more than one read chunk
    source.write_bytes(data)
    info = await store.put_file(source)
    assert info == BlobInfo(key=sha(data), size=len(data))
    assert await store.read(info.key) == data
    assert source.read_bytes() == data


async def test_too_large_is_refused_and_leaves_nothing(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(BlobTooLarge):
        await store.put_stream(stream(b"x" * 60, b"x" * 60), max_bytes=100)
    assert not await store.exists(sha(b"x" * 120))
    assert await store.stats() == {"count": 0, "total_bytes": 0}
    if isinstance(store, FileBlobStore):
        assert list((store.root / "tmp").iterdir()) == []
        assert files_under(store.root) == []
    # Exactly at the limit is fine.
    info = await store.put_stream(stream(b"y" * 100), max_bytes=100)
    assert info.size == 100 and await store.exists(info.key)


async def test_zero_byte_blob(store: BlobStore) -> None:
    info = await store.put_stream(stream())
    assert info == BlobInfo(key=sha(b""), size=0)
    assert await store.exists(info.key)
    assert await store.size(info.key) == 0
    assert await store.read(info.key) == b""


async def test_refcount_up_down_and_floor_at_zero(store: BlobStore) -> None:
    key = (await store.put_bytes(b"shared")).key
    assert await store.refcount(key) == 0
    assert await store.incref(key) == 1
    assert await store.incref(key, 2) == 3
    assert await store.decref(key) == 2
    assert await store.decref(key, 5) == 0  # never below zero
    assert await store.decref(key) == 0
    assert await store.refcount(key) == 0
    assert await store.incref(key) == 1  # and back up from the floor


async def test_incref_missing_raises(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.incref(UNKNOWN)
    assert await store.refcount(UNKNOWN) == 0


async def test_decref_unknown_is_zero(store: BlobStore) -> None:
    assert await store.decref(UNKNOWN) == 0


async def test_negative_counts_are_rejected(store: BlobStore) -> None:
    key = (await store.put_bytes(b"n")).key
    with pytest.raises(ValueError):
        await store.incref(key, -1)
    with pytest.raises(ValueError):
        await store.decref(key, -1)
    assert await store.refcount(key) == 0


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
    assert await store.exists(kept)
    assert await store.read(kept) == b"in a post"

    # Once its last reference is dropped, it goes too.
    await store.decref(kept)
    assert await store.gc(grace_seconds=HOUR, now=later) == 1
    assert not await store.exists(kept)
    assert await store.stats() == {"count": 0, "total_bytes": 0}
    assert await store.gc(grace_seconds=HOUR, now=later) == 0


async def test_blob_can_be_stored_again_after_gc(store: BlobStore) -> None:
    key = (await store.put_bytes(b"again")).key
    assert await store.gc(grace_seconds=0, now=time.time() + 1) == 1
    assert (await store.put_bytes(b"again")).key == key
    assert await store.read(key) == b"again"


BAD_KEYS = [
    "../../etc/passwd",
    "../" * 21 + "a",  # 64 characters, still a path
    "/etc/passwd",
    "A" * 64,  # uppercase hex
    "ab" * 31,  # 62 characters
    "a" * 65,
    "a" * 64 + "\n",  # a regex ending in "$" would let this through
    "g" * 64,
    "",
]


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_invalid_keys_are_rejected_everywhere(store: BlobStore, bad: str) -> None:
    valid = (await store.put_bytes(b"ok")).key
    calls = {
        "read": lambda: store.read(bad),
        "read_range": lambda: store.read(bad, 0, 1),
        "size": lambda: store.size(bad),
        "exists": lambda: store.exists(bad),
        "incref": lambda: store.incref(bad),
        "decref": lambda: store.decref(bad),
        "refcount": lambda: store.refcount(bad),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidBlobKey):
            await call()
            pytest.fail(f"{name} accepted {bad!r}")
    with pytest.raises(InvalidBlobKey):
        store.path(bad)
    assert issubclass(InvalidBlobKey, ValueError) and issubclass(InvalidBlobKey, BlobError)
    assert await store.refcount(valid) == 0  # nothing was touched


async def test_non_string_key_is_rejected(store: BlobStore) -> None:
    with pytest.raises(InvalidBlobKey):
        await store.size(12345)  # type: ignore[arg-type]


# --- memory backend only -----------------------------------------------------


async def test_memory_store_has_no_paths() -> None:
    s = MemoryBlobStore()
    await s.open()
    key = (await s.put_bytes(b"in memory")).key
    assert s.path(key) is None
    assert await s.read(key) == b"in memory"


# --- file backend only -------------------------------------------------------


async def test_file_lands_at_sharded_path(file_store: FileBlobStore) -> None:
    data = b"sharded"
    key = (await file_store.put_bytes(data)).key
    expected = file_store.root / key[0:2] / key[2:4] / key
    assert file_store.path(key) == expected
    assert expected.read_bytes() == data
    assert file_store.path(UNKNOWN) is None
    assert list((file_store.root / "tmp").iterdir()) == []  # the temp file was renamed


async def test_duplicate_put_keeps_one_file(file_store: FileBlobStore) -> None:
    await file_store.put_bytes(b"twice")
    await file_store.put_bytes(b"twice")
    assert len(files_under(file_store.root)) == 1
    assert list((file_store.root / "tmp").iterdir()) == []


async def test_leftover_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    (root / "tmp").mkdir(parents=True)
    leftover = root / "tmp" / "put-crashed.part"
    leftover.write_bytes(b"half an upload")
    s = FileBlobStore(root)
    await s.open()
    try:
        assert not leftover.exists()
        assert (root / "tmp").is_dir()
    finally:
        await s.close()


async def test_reopened_store_keeps_blobs_and_refcounts(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    first = FileBlobStore(root)
    await first.open()
    key = (await first.put_bytes(b"durable")).key
    await first.incref(key, 2)
    await first.close()

    second = FileBlobStore(root)
    await second.open()
    try:
        assert await second.refcount(key) == 2
        assert await second.read(key) == b"durable"
        assert await second.stats() == {"count": 1, "total_bytes": 7}
    finally:
        await second.close()


async def test_refcount_db_is_wal_with_expected_table(file_store: FileBlobStore) -> None:
    key = (await file_store.put_bytes(b"row")).key
    with sqlite3.connect(file_store.root / "refs.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = db.execute("SELECT size, refs, created_at FROM blobs WHERE key = ?", (key,)).fetchone()
    assert row[0] == 3 and row[1] == 0 and abs(row[2] - time.time()) < 60


async def test_file_without_row_is_adopted(file_store: FileBlobStore) -> None:
    # Simulate a crash that kept the file but lost its row.
    key = (await file_store.put_bytes(b"orphan")).key
    with sqlite3.connect(file_store.root / "refs.sqlite") as db:
        db.execute("DELETE FROM blobs WHERE key = ?", (key,))
    assert await file_store.incref(key) == 1  # incref adopts it...
    with sqlite3.connect(file_store.root / "refs.sqlite") as db:
        db.execute("DELETE FROM blobs WHERE key = ?", (key,))
    assert (await file_store.put_bytes(b"orphan")).key == key  # ...and so does put
    assert await file_store.stats() == {"count": 1, "total_bytes": 6}
    assert len(files_under(file_store.root)) == 1


async def test_gc_drops_rows_whose_file_is_gone(file_store: FileBlobStore) -> None:
    key = (await file_store.put_bytes(b"vanishes")).key
    await file_store.incref(key)
    file_store.path(key).unlink()
    assert await file_store.gc(grace_seconds=HOUR, now=time.time()) == 0  # no file deleted
    assert await file_store.stats() == {"count": 0, "total_bytes": 0}
    assert await file_store.refcount(key) == 0


async def test_large_stream_is_written_in_pieces(file_store: FileBlobStore) -> None:
    chunk_size, count = 2 * 1024 * 1024, 10  # 20 MB in 2 MB chunks

    async def big() -> AsyncIterator[bytes]:
        for i in range(count):
            yield bytes([i]) * chunk_size  # made on demand, never all at once

    expected = hashlib.sha256()
    for i in range(count):
        expected.update(bytes([i]) * chunk_size)

    tracemalloc.start()
    try:
        info = await file_store.put_stream(big(), max_bytes=count * chunk_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info == BlobInfo(key=expected.hexdigest(), size=count * chunk_size)
    assert file_store.path(info.key).stat().st_size == count * chunk_size
    assert await file_store.read(info.key, 9 * chunk_size - 1, 9 * chunk_size + 2) == b"\x08\x09\x09"
    assert peak < 8 * chunk_size // 2  # a few chunks at most, far below the 20 MB total


async def test_using_a_closed_store_raises(tmp_path: Path) -> None:
    s = FileBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobError):
        await s.put_bytes(b"too early")
    assert list((tmp_path / "blobs").glob("*")) == []

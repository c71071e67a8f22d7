"""`admin backup`: a consistent copy of a data directory while its server keeps serving.

The idea: nothing is stopped or locked. Every shard is copied with SQLite's online
backup API from a pinned snapshot (backup.py: a read transaction, which in WAL mode
never blocks the writer). The order of the steps is what makes shards and blobs agree:

1. every blob file that exists is copied (blobs never change, so a file is either
   complete or absent), and the reference counts in use are read;
2. every shard and then the refcount file is opened, then a snapshot of each is pinned
   in a tight loop (9 files in about 0.05 ms here) and copied from its pin: the backup
   is the data directory as of one instant, give or take those microseconds. A change
   spanning two shards, like a follow, is cut at most as a crash would cut it, and the
   durable outbox row written with its first half finishes it when the restored server
   starts. (Cutting it any worse would take two of its commits in a row, each with its
   fsync, 0.2 ms here and more on most disks, inside the pinning loop.)
3. in the refcount copy, any count that was higher at step 1 is put back: in the
   microseconds between a shard's pin and the refcount file's, a post deleted just
   after its shard was pinned may have released its blobs, which a restored server
   would then collect from under the backed-up post. Otherwise the counts of one instant
   can only err upwards (a leak, the safe direction), because writers incref before
   recording a reference and decref after deleting one;
4. the blob files created since step 1 are copied.

Why every blob a backed-up row references is in the backup: gc deletes only blobs whose
count is zero *and* whose created_at is older than `[blobs] gc_grace_seconds`
(blobs.py). A blob that existed at step 1 was copied then, whatever gc did afterwards;
a blob created later is younger than the grace period until the backup has run that
long, so gc cannot have taken it before step 4. (Copying the blobs only after the shards
would not be enough: an old blob of a post deleted during the backup may be collected
at once.) A backup running longer than the grace period warns about it.

Files are written into a hidden temporary directory beside the target, fsynced, and
renamed to the target at the end: a backup that is not complete has no manifest at the
target's name. The LMDB cache (disposable) and the uploads still being processed are
not copied.

Cost: one read of every shard and blob, a write of the copy, an integrity check of each
shard copy; three open files per shard while the pins are held; each shard's WAL grows
by the writes made until its own copy is done.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from .backup import (
    BackupError, BackupRefused, ShardCopy, copy_snapshot, describe_copy, fsync_dir, fsync_tree, open_reader, pin, snapshot_from,
)
from .backup_blobs import copy_blobs, describe_blobs, list_blobs
from .backup_manifest import FORMAT, REFS, Manifest, PlainFile, plain_file, write_manifest
from .meta import Layout

SMALL_FILES = ("meta/layout.json", "cluster/topology.json")  # copied verbatim when present


def take_backup(data_dir: Path, backup_dir: Path, *, busy_timeout_ms: int = 5000) -> Manifest:
    """Copy `data_dir` into `backup_dir` (new, or an empty directory); return the manifest written there."""
    data_dir, backup_dir = Path(data_dir).resolve(), Path(backup_dir).resolve()
    _refuse_unless_empty(backup_dir)
    layout = _read_layout(data_dir)
    backup_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = backup_dir.with_name(f".{backup_dir.name}.partial-{os.getpid()}")
    try:
        manifest = _copy_into(data_dir, staging, layout, busy_timeout_ms)
        write_manifest(staging, manifest)
        fsync_tree(staging)
        if backup_dir.exists():
            backup_dir.rmdir()  # empty (checked above); the rename needs the name free
        staging.rename(backup_dir)
        fsync_dir(backup_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _copy_into(data_dir: Path, staging: Path, layout: Layout, busy_timeout_ms: int) -> Manifest:
    created, started = datetime.now(UTC), time.monotonic()
    source_blobs, staged_blobs = data_dir / "blobs", staging / "blobs"
    (staging / "meta").mkdir(parents=True)
    staged_blobs.mkdir()
    files = [_copy_small(data_dir, staging, relative) for relative in SMALL_FILES if (data_dir / relative).is_file()]
    first = copy_blobs(source_blobs, staged_blobs, sorted(list_blobs(source_blobs)))  # step 1
    counts_before = _read_counts(source_blobs / REFS, busy_timeout_ms)
    shards, refs = _copy_pinned(data_dir, staging, layout.shards, counts_before, busy_timeout_ms)  # steps 2, 3
    already = set(list_blobs(staged_blobs)) | set(first.corrupt)
    later = copy_blobs(source_blobs, staged_blobs, sorted(set(list_blobs(source_blobs)) - already))  # step 4
    return Manifest(
        format=FORMAT,
        created=created,
        source=str(data_dir),
        seconds=round(time.monotonic() - started, 3),
        shard_count=layout.shards,
        shards=shards,
        refs=refs,
        blobs=describe_blobs(list_blobs(staged_blobs)),
        files=files,
        corrupt_blobs=sorted(first.corrupt + later.corrupt),
    )


def _copy_pinned(
    data_dir: Path, staging: Path, shard_count: int, counts_before: list[tuple], busy_timeout_ms: int
) -> tuple[list[ShardCopy], ShardCopy | None]:
    """Steps 2 and 3: pin every shard and then the refcounts, copy each from its pin, mend the counts."""
    names = [f"shard-{index:04d}.sqlite" for index in range(shard_count)]
    refs_file = data_dir / "blobs" / REFS
    with ExitStack() as pins:
        readers = [pins.enter_context(closing(open_reader(data_dir / "meta" / name, busy_timeout_ms=busy_timeout_ms)))
                   for name in names]
        refs_reader = None
        if refs_file.is_file():  # pinned last: step 3 says why
            refs_reader = pins.enter_context(closing(open_reader(refs_file, busy_timeout_ms=busy_timeout_ms)))
        for reader in [*readers, refs_reader] if refs_reader else readers:  # the tight loop that makes one instant
            pin(reader)
        shards = []
        for name, reader in zip(names, readers):
            shards.append(_checked(snapshot_from(reader, staging / "meta" / name)))
            reader.close()  # unpinned at once: this shard's WAL may be checkpointed again
        if refs_reader is None:
            return shards, None
        copy_snapshot(refs_reader, staging / "blobs" / REFS)
    _keep_higher_counts(staging / "blobs" / REFS, counts_before)
    return shards, _checked(describe_copy(staging / "blobs" / REFS))


def _refuse_unless_empty(backup_dir: Path) -> None:
    if backup_dir.exists() and not backup_dir.is_dir():
        raise BackupRefused(f"{backup_dir} exists and is not a directory; give a new or empty directory")
    if backup_dir.is_dir() and any(backup_dir.iterdir()):
        raise BackupRefused(f"{backup_dir} is not empty; a backup goes into a new or empty directory")


def _read_layout(data_dir: Path) -> Layout:
    layout_file = data_dir / "meta" / "layout.json"
    if not layout_file.is_file():
        raise BackupRefused(f"{data_dir} is not an instamini data directory (it has no meta/layout.json)")
    try:
        return msgspec.json.decode(layout_file.read_bytes(), type=Layout)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise BackupRefused(f"{layout_file} cannot be read ({error}); is this a data directory?") from None


def _copy_small(data_dir: Path, staging: Path, relative: str) -> PlainFile:
    (staging / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_dir / relative, staging / relative)
    return plain_file(staging, relative)


def _checked(copy: ShardCopy) -> ShardCopy:
    if copy.integrity != "ok":
        raise BackupError(
            f"the copy of {copy.name} fails PRAGMA integrity_check ({copy.integrity}): "
            "the live file may be damaged; no backup was written"
        )
    return copy


def _read_counts(refs_file: Path, busy_timeout_ms: int) -> list[tuple]:
    """The rows of blobs in use: (key, size, refs, created_at)."""
    if not refs_file.is_file():
        return []
    reader = sqlite3.connect(refs_file, timeout=busy_timeout_ms / 1000)
    try:  # one statement: one read transaction, one instant
        return reader.execute("SELECT key, size, refs, created_at FROM blobs WHERE refs > 0").fetchall()
    finally:
        reader.close()


def _keep_higher_counts(refs_copy: Path, counts_before: list[tuple]) -> None:
    # An upsert: gc may even have dropped the row since step 1 (its count fell to zero).
    writer = sqlite3.connect(refs_copy, isolation_level=None)
    try:
        writer.execute("BEGIN")
        writer.executemany(
            "INSERT INTO blobs (key, size, refs, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET refs = MAX(refs, excluded.refs)",
            counts_before,
        )
        writer.execute("COMMIT")
    finally:
        writer.close()

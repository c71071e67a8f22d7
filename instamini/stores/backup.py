"""Consistent copies of live SQLite files: the primitive of backup, restore and moving a shard.

The idea: a shard is one SQLite file in WAL mode that its server keeps writing.
Copying the file with `cp` while it is written gives a torn copy (half old pages,
half new, and the WAL's frames missing). SQLite's online backup API
(`sqlite3.Connection.backup`) instead copies the database's pages inside one read
transaction, so the copy is the database exactly as it was at one instant: every
transaction committed before that instant, none after.

A snapshot is pinned first (`open_snapshot`: a read transaction begun with a read),
then copied from that connection. In WAL mode a reader never blocks the writer, so the
server keeps committing throughout; while the snapshot is pinned its WAL cannot be
checkpointed past it, so the WAL grows by the writes made meanwhile, then folds back.
Pinning is also what makes a copy in steps work on a live file: without it, any commit
between two steps restarts the copy from the first page (measured here on a 21 MB file
with a writer committing in a loop: steps of 256 pages took 17,302 steps, 1,923 restarts
and 5.1 s); from a pinned snapshot the same steps never restart. Several files opened first
(`open_reader`) and then pinned in a tight loop (`pin`) are copies of nearly one
instant, what the backup of many shards needs: 9 files pin in about 0.05 ms here.

Each copy is made self-contained (journal_mode=DELETE: one file, no -wal beside it)
and described by its size, sha256 and `PRAGMA integrity_check`, so that whoever
receives it can check it before trusting it (`verify_copy`).

Cost: a read and a write of the file, then one more full read for the integrity
check and one for the hash; an fsync per file and directory in `fsync_tree`.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import msgspec

from .blobs import fsync_dir  # noqa: F401 (re-exported: backup_take and backup_restore use it from here)

HASH_CHUNK_BYTES = 1 << 20


class BackupError(Exception):
    """A backup or restore failed; the message says what and where. Nothing half-made is left behind."""


class BackupRefused(BackupError):
    """The command will not run on these directories (in use, not empty, not a valid backup): nothing was changed."""


class ShardCopy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One SQLite file copied (a shard, or the blob refcounts), as a manifest records it."""

    name: str  # the file's name, e.g. shard-0003.sqlite
    bytes: int
    sha256: str
    integrity: str  # what PRAGMA integrity_check said of the copy: "ok", or the first problems


def snapshot_shard(source: Path, destination: Path, *, busy_timeout_ms: int = 5000, pages: int = -1) -> ShardCopy:
    """Copy a (possibly live) SQLite file as of now into a new file, and describe the copy."""
    reader = open_snapshot(source, busy_timeout_ms=busy_timeout_ms)
    try:
        return snapshot_from(reader, destination, pages=pages)
    finally:
        reader.close()


def open_snapshot(source: Path, *, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A connection that sees `source` as it is now, whatever is committed later, until it is closed."""
    reader = open_reader(source, busy_timeout_ms=busy_timeout_ms)
    try:
        pin(reader)
    except BaseException:
        reader.close()
        raise
    return reader


def open_reader(source: Path, *, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """A connection to a live SQLite file, its schema already read, so that `pin` costs microseconds."""
    if not source.is_file():  # sqlite3.connect would create an empty database in its place
        raise BackupError(f"{source} does not exist")
    reader = sqlite3.connect(source, timeout=busy_timeout_ms / 1000, isolation_level=None)
    try:
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()  # parsing the schema is the slow part
    except BaseException:
        reader.close()
        raise
    return reader


def pin(reader: sqlite3.Connection) -> None:
    """Fix the reader's snapshot now: a read transaction, begun by its first read."""
    reader.execute("BEGIN")  # deferred: the snapshot is taken by the read just below
    reader.execute("PRAGMA schema_version").fetchone()


def snapshot_from(reader: sqlite3.Connection, destination: Path, *, pages: int = -1) -> ShardCopy:
    """Copy the snapshot a pinned reader holds (`open_snapshot`, or `open_reader` then `pin`) into a new file; describe it."""
    copy_snapshot(reader, destination, pages=pages)
    return describe_copy(destination)


def copy_snapshot(reader: sqlite3.Connection, destination: Path, *, pages: int = -1) -> None:
    """The copy without its description, for callers that adjust the copy before describing it."""
    if destination.exists():
        raise BackupError(f"{destination} already exists; a copy is only made into a new file")
    copy = sqlite3.connect(destination, isolation_level=None)
    try:
        reader.backup(copy, pages=pages)  # inside the reader's transaction: its snapshot, never restarted
        # The copy's header says WAL, like its source; DELETE makes it one file that
        # opens read-only anywhere. The server turns WAL back on when it opens it.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()


def describe_copy(path: Path) -> ShardCopy:
    """Size, sha256 and integrity check of a self-contained SQLite file (opened read-only: the hash holds)."""
    reader = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in reader.execute("PRAGMA integrity_check(20)")]
    except sqlite3.DatabaseError as error:  # not a database at all (a truncated or garbled file)
        problems = [str(error)]
    finally:
        reader.close()
    size, digest = hash_file(path)
    return ShardCopy(name=path.name, bytes=size, sha256=digest, integrity="; ".join(problems))


def verify_copy(path: Path, expected: ShardCopy) -> list[str]:
    """What is wrong with a copy compared with its description: [] when it is the very file described."""
    if not path.is_file():
        return [f"{path} is missing"]
    found = describe_copy(path)
    problems = []
    if found.bytes != expected.bytes:
        problems.append(f"{path} has {found.bytes} bytes, the manifest says {expected.bytes} (truncated or replaced)")
    elif found.sha256 != expected.sha256:
        problems.append(f"{path} does not have the sha256 the manifest records (its bytes changed)")
    if found.integrity != "ok":
        problems.append(f"{path} fails PRAGMA integrity_check: {found.integrity}")
    return problems


def hash_file(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a file, read in chunks so memory stays flat."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def fsync_tree(root: Path) -> None:
    """Make every file and directory under root durable: contents first, then the names in each directory."""
    for directory, _subdirectories, files in os.walk(root, topdown=False):
        for name in files:
            descriptor = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        fsync_dir(Path(directory))



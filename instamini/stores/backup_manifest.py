"""The backup manifest: what a backup holds, so that a restore can prove it is whole before using it.

A backup directory has the layout of a data directory, minus the disposable parts
(the LMDB cache, uploads still being processed), plus `manifest.json`:

    manifest.json               this file, written last
    meta/layout.json            the shard count, fixed at creation
    meta/shard-NNNN.sqlite      one self-contained SQLite copy per logical shard
    blobs/refs.sqlite           the blob reference counts
    blobs/ab/cd/abcd...         the blobs, named by their sha256
    cluster/topology.json       the shard map, when one was saved

Every SQLite copy is recorded with its size, sha256 and integrity check; small
files with size and sha256; the blobs as a count, bytes and a digest of their
listing (each blob also checks itself against its name). `verify_backup` compares
a directory with its manifest and says everything that differs.

Cost: a few hundred bytes per shard; verifying re-reads every SQLite copy twice
(hash, integrity check) and lists the blobs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import msgspec

from .backup import BackupRefused, ShardCopy, hash_file, verify_copy
from .backup_blobs import BlobSet, describe_blobs, list_blobs, referenced_but_absent
from .meta import Layout

FORMAT = 1
MANIFEST = "manifest.json"
REFS = "refs.sqlite"


class PlainFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    path: str  # relative to the backup directory, e.g. meta/layout.json
    bytes: int
    sha256: str


class Manifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: int
    created: datetime  # UTC, when the copy started
    source: str  # the data directory it was taken from
    seconds: float  # how long the copy took
    shard_count: int
    shards: list[ShardCopy]  # in shard order, in meta/
    refs: ShardCopy | None  # the blob refcounts, in blobs/
    blobs: BlobSet
    files: list[PlainFile]
    corrupt_blobs: list[str] = msgspec.field(default_factory=list)  # found damaged in the source, left out


def plain_file(root: Path, relative: str) -> PlainFile:
    size, digest = hash_file(root / relative)
    return PlainFile(path=relative, bytes=size, sha256=digest)


def write_manifest(root: Path, manifest: Manifest) -> None:
    (root / MANIFEST).write_bytes(msgspec.json.format(msgspec.json.encode(manifest)) + b"\n")


def read_manifest(root: Path) -> Manifest:
    file = root / MANIFEST
    if not root.is_dir():
        raise BackupRefused(f"{root} does not exist")
    if not file.is_file():
        raise BackupRefused(f"{root} is not a complete backup: it has no {MANIFEST} (an interrupted backup leaves none)")
    try:
        manifest = msgspec.json.decode(file.read_bytes(), type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise BackupRefused(f"{file} is not a valid manifest: {error}") from None
    if manifest.format != FORMAT:
        raise BackupRefused(f"{file} has format {manifest.format}; this version reads format {FORMAT} only")
    return manifest


def verify_backup(root: Path, manifest: Manifest) -> list[str]:
    """Everything in `root` that differs from the manifest; [] when the backup is whole."""
    problems = []
    for expected in manifest.files:
        path = root / expected.path
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif plain_file(root, expected.path) != expected:
            problems.append(f"{path} does not match the manifest (size or sha256)")
    problems += _layout_problems(root, manifest)
    for expected in manifest.shards:
        problems += verify_copy(root / "meta" / expected.name, expected)
    if manifest.refs is not None:
        problems += verify_copy(root / "blobs" / manifest.refs.name, manifest.refs)
    blobs = list_blobs(root / "blobs")
    if describe_blobs(blobs) != manifest.blobs:
        found = describe_blobs(blobs)
        absent = referenced_but_absent(root / "blobs" / REFS, blobs)
        named = f"; in use but absent: {', '.join(absent)}" if absent else ""
        problems.append(
            f"{root / 'blobs'} holds {found.count} blobs ({found.bytes} bytes), the manifest says "
            f"{manifest.blobs.count} ({manifest.blobs.bytes} bytes), or their names differ{named}"
        )
    return problems


def _layout_problems(root: Path, manifest: Manifest) -> list[str]:
    try:
        layout = msgspec.json.decode((root / "meta" / "layout.json").read_bytes(), type=Layout)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as error:
        return [f"{root / 'meta' / 'layout.json'} cannot be read: {error}"]
    if not layout.shards == manifest.shard_count == len(manifest.shards):
        return [f"layout.json says {layout.shards} shards, the manifest {manifest.shard_count} ({len(manifest.shards)} listed)"]
    return []

"""Copying content-addressed blobs between directories, and checking a copied set.

The idea: a blob file never changes once written and its name is the sha256 of
its bytes (blobs.py), so copying one needs no lock and no snapshot: a file that
exists is complete, and it verifies itself (hash the copy, compare with the name).
A set of blobs is described by its count, its bytes and a digest of its sorted
"key size" listing, so a missing or extra blob is noticed without a list of every
key in the manifest.

Cost: each byte is read, hashed and written once; listing walks the two levels of
directories (blobs.py's layout `<k[0:2]>/<k[2:4]>/<k>`).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import msgspec

from .backup import HASH_CHUNK_BYTES

_KEY = re.compile(r"[0-9a-f]{64}")


class BlobSet(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    count: int
    bytes: int
    digest: str  # sha256 of the sorted "key size\n" lines


class CopiedBlobs(msgspec.Struct):
    copied: int = 0
    bytes: int = 0
    vanished: list[str] = msgspec.field(default_factory=list)  # collected between listing and copying
    corrupt: list[str] = msgspec.field(default_factory=list)  # bytes that do not hash to their name: not copied


def blob_path(root: Path, key: str) -> Path:
    return root / key[0:2] / key[2:4] / key


def list_blobs(root: Path) -> dict[str, int]:
    """Every blob file under root, key -> size (refs.sqlite, tmp/ and anything else are not blobs)."""
    found: dict[str, int] = {}
    for first in _subdirectories(root):
        for second in _subdirectories(first):
            with os.scandir(second) as entries:
                for entry in entries:
                    name = entry.name
                    if _KEY.fullmatch(name) and name.startswith(first.name + second.name) and entry.is_file():
                        found[name] = entry.stat().st_size
    return found


def _subdirectories(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return [path for path in directory.iterdir() if len(path.name) == 2 and path.is_dir()]


def copy_blobs(source_root: Path, destination_root: Path, keys: Iterable[str]) -> CopiedBlobs:
    """Copy the named blobs, checking each against its name; a blob gone meanwhile is skipped (gc took it)."""
    result = CopiedBlobs()
    for key in keys:
        try:
            size, digest = _copy_hashing(blob_path(source_root, key), blob_path(destination_root, key))
        except FileNotFoundError:
            result.vanished.append(key)
            continue
        if digest != key:
            blob_path(destination_root, key).unlink()
            result.corrupt.append(key)
            continue
        result.copied += 1
        result.bytes += size
    return result


def _copy_hashing(source: Path, destination: Path) -> tuple[int, str]:
    with source.open("rb") as reader:  # opened first: a blob collected meanwhile leaves nothing behind
        destination.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with destination.open("xb") as writer:  # "x": a copy never overwrites
            while chunk := reader.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
    return size, digest.hexdigest()


def blob_set(root: Path) -> BlobSet:
    return describe_blobs(list_blobs(root))


def describe_blobs(blobs: dict[str, int]) -> BlobSet:
    digest = hashlib.sha256()
    for key in sorted(blobs):
        digest.update(f"{key} {blobs[key]}\n".encode())
    return BlobSet(count=len(blobs), bytes=sum(blobs.values()), digest=digest.hexdigest())


def referenced_but_absent(refs_file: Path, blobs: dict[str, int], limit: int = 5) -> list[str]:
    """Up to `limit` keys that the refcount copy says are in use and that have no file: to name in a message."""
    if not refs_file.is_file():
        return []
    reader = sqlite3.connect(f"{refs_file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = reader.execute("SELECT key FROM blobs WHERE refs > 0 ORDER BY key").fetchall()
    except sqlite3.DatabaseError:
        return []  # a damaged copy is reported by its own check
    finally:
        reader.close()
    return [key for (key,) in rows if key not in blobs][:limit]

"""`admin restore`: put a backup in place of a data directory, with its server stopped.

The idea: a restore must never make things worse. So the backup is first copied
into a hidden directory beside the target and checked there against its manifest
(hashes, integrity checks, the blob set, each blob against its name): a damaged
backup is refused and the target is not touched. Only then does the target's old
content move aside to `<data>.before-restore-<time>` (never deleted: the operator
deletes it once happy) and the checked copy take its name, in two renames.

A running server is detected as `demo` detects it (demo/writer.py): every shard of
the target is opened in SQLite's EXCLUSIVE locking mode, which fails while any
connection of a server has it open, and those locks are held until the old data
has moved aside, so no server can start on it meanwhile. The restored directory has
no LMDB cache: the server creates an empty one at start and refills it from SQLite.

Cost: one copy of the backup (every byte read, hashed and written once), one more
read of each shard for its integrity check; the old data is only renamed.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import ExitStack
from pathlib import Path

import msgspec

from ..demo.writer import BulkLoad, DataDirInUse
from .backup import BackupRefused, fsync_dir, fsync_tree
from .backup_blobs import CopiedBlobs, copy_blobs, list_blobs
from .backup_manifest import MANIFEST, Manifest, read_manifest, verify_backup
from .meta import Layout


class Restored(msgspec.Struct, frozen=True):
    manifest: Manifest
    data_dir: str
    moved_aside: str | None  # where the old data went, if there was any


def restore_backup(backup_dir: Path, data_dir: Path, *, force: bool = False) -> Restored:
    """Replace `data_dir` by the backup in `backup_dir`; BackupRefused (nothing changed) if it cannot."""
    backup_dir, data_dir = Path(backup_dir).resolve(), Path(data_dir).resolve()
    manifest = read_manifest(backup_dir)
    with ExitStack() as locks:
        _keep_servers_out(data_dir, locks)
        if _has_data(data_dir) and not force:
            raise BackupRefused(
                f"{data_dir} already has data; restore into a new directory (--data-dir), "
                f"or add --force to move the old data aside to {data_dir.name}.before-restore-<time>"
            )
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = data_dir.with_name(f".{data_dir.name}.restoring-{os.getpid()}")
        try:
            _copy_checked(backup_dir, staging, manifest)
            moved_aside = _move_aside(data_dir)
            # Released before the restored files take the old paths: closing SQLite's
            # last connection to a WAL file deletes the -wal by its path name.
            locks.close()
            if data_dir.exists():
                data_dir.rmdir()  # an empty directory: the rename needs the name free
            staging.rename(data_dir)
            fsync_dir(data_dir.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Restored(manifest=manifest, data_dir=str(data_dir), moved_aside=moved_aside and str(moved_aside))


def _copy_checked(backup_dir: Path, staging: Path, manifest: Manifest) -> None:
    shutil.rmtree(staging, ignore_errors=True)  # a restore of ours that was killed half way
    staged_blobs = staging / "blobs"
    # Everything but the blobs and the manifest is copied as it is: SQLite files and small files.
    shutil.copytree(backup_dir, staging, ignore=lambda directory, names: _not_plain(backup_dir, directory, names))
    staged_blobs.mkdir(parents=True, exist_ok=True)
    copied = copy_blobs(backup_dir / "blobs", staged_blobs, sorted(list_blobs(backup_dir / "blobs")))
    problems = verify_backup(staging, manifest) + _blob_problems(copied)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise BackupRefused(f"the backup in {backup_dir} does not match its manifest; nothing was restored:\n{listed}")
    fsync_tree(staging)


def _not_plain(backup_dir: Path, directory: str, names: list[str]) -> list[str]:
    """copytree's ignore: the manifest, and blobs/'s two-letter directories (copied and checked one by one)."""
    if Path(directory) == backup_dir:
        return [MANIFEST]
    if Path(directory) == backup_dir / "blobs":
        return [name for name in names if len(name) == 2 and (backup_dir / "blobs" / name).is_dir()]
    return []


def _blob_problems(copied: CopiedBlobs) -> list[str]:
    return [f"blob {key} does not hash to its name (its bytes changed)" for key in copied.corrupt]


def _has_data(data_dir: Path) -> bool:
    return data_dir.is_dir() and any(data_dir.iterdir())


def _move_aside(data_dir: Path) -> Path | None:
    if not _has_data(data_dir):
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = data_dir.with_name(f"{data_dir.name}.before-restore-{stamp}")
    for attempt in range(2, 1000):
        if not aside.exists():
            break
        aside = data_dir.with_name(f"{data_dir.name}.before-restore-{stamp}-{attempt}")
    data_dir.rename(aside)
    fsync_dir(data_dir.parent)
    return aside


def _keep_servers_out(data_dir: Path, locks: ExitStack) -> None:
    """Hold every shard of the target in EXCLUSIVE mode until `locks` closes; BackupRefused if a server has one open."""
    layout_file = data_dir / "meta" / "layout.json"
    if not layout_file.is_file():
        return  # no shards, so no server: a server writes layout.json before it opens anything
    try:
        shards = msgspec.json.decode(layout_file.read_bytes(), type=Layout).shards
    except (msgspec.DecodeError, msgspec.ValidationError):
        return  # a server would not have started on it; the directory still counts as data
    paths = [data_dir / "meta" / f"shard-{i:04d}.sqlite" for i in range(shards)]
    if not all(path.is_file() for path in paths):
        return  # a server creates every shard when it opens the directory: none runs here
    try:
        locks.enter_context(BulkLoad(data_dir / "meta", shards))
    except DataDirInUse as error:
        raise BackupRefused(f"{error}; nothing was restored") from None

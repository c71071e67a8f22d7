"""`python -m instamini admin backup DIR` and `admin restore DIR`: the command-line wiring.

The procedures live in backup_take.py and backup_restore.py; this file turns
arguments into calls, results into one-line summaries, and refusals into exit
status 2 (failures 1). Imports are deferred so that `--help` stays fast.

Cost: none beyond the procedures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import Config

MB = 1 << 20


def add_backup_commands(admin_commands) -> None:
    """The two actions, beside `admin create`."""
    backup = admin_commands.add_parser(
        "backup", help="copy the data directory consistently into DIR, while the server keeps serving"
    )
    backup.add_argument("dir", metavar="DIR", help="where the backup goes: a new or empty directory")
    restore = admin_commands.add_parser(
        "restore", help="replace the data directory by the backup in DIR, after checking it (server stopped)"
    )
    restore.add_argument("dir", metavar="DIR", help="a directory written by `admin backup`")
    restore.add_argument(
        "--force", action="store_true", help="restore over existing data, moved aside to <data>.before-restore-<time>"
    )
    for command in (backup, restore):
        command.add_argument("--data-dir", help="the data directory (default from config: ./data)")
        command.add_argument("--config", help="config file (default: $INSTAMINI_CONFIG or ./config.toml)")


def run_backup_command(config: Config, options: argparse.Namespace) -> int:
    from .backup import BackupError, BackupRefused

    try:
        if options.admin_command == "backup":
            _backup(config, Path(options.dir))
        else:
            _restore(config, Path(options.dir), force=options.force)
    except BackupRefused as refusal:
        print(f"instamini: {refusal}", file=sys.stderr)
        return 2
    except (BackupError, OSError) as error:
        print(f"instamini: {options.admin_command} failed: {error}", file=sys.stderr)
        return 1
    return 0


def _backup(config: Config, backup_dir: Path) -> None:
    from .backup_take import take_backup

    manifest = take_backup(config.data_path, backup_dir, busy_timeout_ms=config.meta.busy_timeout_ms)
    shard_bytes = sum(shard.bytes for shard in manifest.shards)
    print(
        f"backup of {manifest.source} in {backup_dir.resolve()}: {manifest.shard_count} shards "
        f"({shard_bytes / MB:.1f} MB), {manifest.blobs.count} blobs ({manifest.blobs.bytes / MB:.1f} MB), "
        f"{manifest.seconds:.2f} s"
    )
    if manifest.seconds > config.blobs.gc_grace_seconds:
        print(
            f"instamini: warning: the backup took {manifest.seconds:.0f} s, longer than [blobs] gc_grace_seconds "
            f"({config.blobs.gc_grace_seconds} s): blobs uploaded and deleted during it may be missing",
            file=sys.stderr,
        )
    if manifest.corrupt_blobs:
        print(
            f"instamini: warning: {len(manifest.corrupt_blobs)} blobs in the data directory do not hash to their "
            f"names and were left out: {', '.join(manifest.corrupt_blobs[:5])}",
            file=sys.stderr,
        )


def _restore(config: Config, backup_dir: Path, *, force: bool) -> None:
    from .backup_restore import restore_backup

    restored = restore_backup(backup_dir, config.data_path, force=force)
    manifest = restored.manifest
    aside = f"; the old data is in {restored.moved_aside}" if restored.moved_aside else ""
    print(
        f"restored {backup_dir.resolve()} (taken {manifest.created:%Y-%m-%d %H:%M:%S} UTC) into {restored.data_dir}: "
        f"{manifest.shard_count} shards, {manifest.blobs.count} blobs, checked against the manifest{aside}"
    )

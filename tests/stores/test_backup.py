"""Backup: a shard copied while it is written is consistent; the manifest describes what was copied."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import msgspec
import pytest

from instamini.cli import main
from instamini.stores import backup_take
from instamini.stores.backup import BackupError, describe_copy, snapshot_shard, verify_copy
from instamini.stores.backup_blobs import blob_path, list_blobs
from instamini.stores.backup_manifest import MANIFEST, Manifest, read_manifest, verify_backup
from instamini.stores.backup_take import take_backup
from instamini.stores.blobs import FileBlobStore
from tests.conftest import FAST_TOML, REPO
from tests.posts.helpers import blob_keys, make_post

ROWS_BEFORE = 20_000  # a few MB: the copy takes long enough for the writer to commit meanwhile


def live_shard(path: Path) -> sqlite3.Connection:
    """A WAL database with the server's settings, an event table and a counter kept with it."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, pad BLOB)")
    conn.execute("CREATE TABLE total (n INTEGER)")
    conn.execute("INSERT INTO total VALUES (0)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (pad) VALUES (?)", ((b"x" * 200,) for _ in range(ROWS_BEFORE)))
    conn.execute("UPDATE total SET n = ?", (ROWS_BEFORE,))
    conn.execute("COMMIT")
    return conn


class Writer(threading.Thread):
    """Commits one event and its counter per transaction until stopped; remembers when each was durable."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(daemon=True)
        self.conn, self.committed, self.stop, self.running = conn, [], threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.conn.execute("BEGIN IMMEDIATE")
            row_id = self.conn.execute("INSERT INTO events (pad) VALUES (x'00') RETURNING id").fetchone()[0]
            self.conn.execute("UPDATE total SET n = n + 1")
            self.conn.execute("COMMIT")
            self.committed.append((row_id, time.perf_counter()))
            if len(self.committed) >= 10:
                self.running.set()


def test_a_copy_taken_while_another_connection_writes_is_consistent(tmp_path):
    writer = Writer(live_shard(tmp_path / "live.sqlite"))
    writer.start()
    try:
        assert writer.running.wait(10)
        acknowledged_before = max(row_id for row_id, _ in list(writer.committed))
        started = time.perf_counter()
        snapshot_shard(tmp_path / "live.sqlite", tmp_path / "copy.sqlite", pages=64)  # in steps: none restarts
        ended = time.perf_counter()
        during = [row_id for row_id, at in list(writer.committed) if started <= at <= ended]
    finally:
        writer.stop.set()
        writer.join()
    copy = describe_copy(tmp_path / "copy.sqlite")
    assert copy.integrity == "ok"
    reader = sqlite3.connect(tmp_path / "copy.sqlite")
    ids = [row[0] for row in reader.execute("SELECT id FROM events ORDER BY id")]
    (total,) = reader.execute("SELECT n FROM total").fetchone()
    reader.close()
    assert ids == list(range(1, len(ids) + 1))  # one instant: no commit missing in the middle
    assert ids[-1] >= acknowledged_before  # everything committed before the copy started is in it
    assert total == len(ids)  # the counter and its rows are from the same transaction
    assert during, "the writer should keep committing while the copy runs (WAL: a reader does not block it)"
    assert not (tmp_path / "copy.sqlite-wal").exists()


def test_a_copy_is_described_and_a_damaged_one_is_named(tmp_path):
    live_shard(tmp_path / "live.sqlite").close()
    described = snapshot_shard(tmp_path / "live.sqlite", tmp_path / "copy.sqlite")
    assert described.name == "copy.sqlite" and described.integrity == "ok"
    assert described.bytes == (tmp_path / "copy.sqlite").stat().st_size
    assert verify_copy(tmp_path / "copy.sqlite", described) == []
    with pytest.raises(BackupError, match="already exists"):
        snapshot_shard(tmp_path / "live.sqlite", tmp_path / "copy.sqlite")
    with pytest.raises(BackupError, match="does not exist"):
        snapshot_shard(tmp_path / "absent.sqlite", tmp_path / "other.sqlite")
    assert not (tmp_path / "absent.sqlite").exists()

    data = bytearray((tmp_path / "copy.sqlite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "copy.sqlite").write_bytes(bytes(data))
    assert any("sha256" in problem for problem in verify_copy(tmp_path / "copy.sqlite", described))
    (tmp_path / "copy.sqlite").write_bytes(bytes(data[: len(data) // 3]))
    problems = verify_copy(tmp_path / "copy.sqlite", described)
    assert any("truncated" in problem for problem in problems) and any("integrity" in p for p in problems)
    (tmp_path / "copy.sqlite").unlink()
    assert verify_copy(tmp_path / "copy.sqlite", described) == [f"{tmp_path / 'copy.sqlite'} is missing"]


async def test_a_backup_of_a_serving_instance_has_everything_its_manifest_says(client, config, alice, bob, tmp_path):
    post = await make_post(client, alice, "before the backup")
    assert (await client.post(f"/api/v1/posts/{post['id']}/like", headers=bob.headers)).status_code in (200, 201)
    manifest = take_backup(config.data_path, tmp_path / "backup")  # the app is still open: a live backup
    backup = tmp_path / "backup"
    assert read_manifest(backup) == manifest
    assert manifest.shard_count == 4 == len(manifest.shards) and all(s.integrity == "ok" for s in manifest.shards)
    assert manifest.refs is not None and manifest.refs.integrity == "ok"
    assert set(blob_keys(post)) <= set(list_blobs(backup / "blobs"))
    assert manifest.blobs.count == len(list_blobs(backup / "blobs")) and manifest.blobs.bytes > 0
    assert [f.path for f in manifest.files] == ["meta/layout.json"]
    assert verify_backup(backup, manifest) == []
    assert not (backup / "cache").exists()  # the LMDB cache is rebuilt, never copied
    assert sorted(path.name for path in tmp_path.iterdir()) == ["backup", "data"]  # no temporary directory left


def fake_data_dir(data: Path, shards: int) -> None:
    """A data directory of plain WAL shards (live_shard's tables) and a blob store."""
    (data / "meta").mkdir(parents=True)
    (data / "meta" / "layout.json").write_bytes(msgspec.json.encode({"shards": shards, "format": 1}))
    for index in range(shards):
        live_shard(data / "meta" / f"shard-{index:04d}.sqlite").close()


def old_referenced_blob(blobs_root: Path, data: bytes) -> str:
    async def put() -> str:
        blobs = FileBlobStore(blobs_root)
        await blobs.open()
        try:
            info = await blobs.put_bytes(data)
            await blobs.incref(info.key)
            return info.key
        finally:
            await blobs.close()

    return asyncio.run(put())


def test_every_shard_is_copied_as_of_the_same_instant(tmp_path, monkeypatch):
    data = tmp_path / "data"
    fake_data_dir(data, 3)
    real_snapshot_from = backup_take.snapshot_from

    def copy_then_write_to_the_last_shard(reader, destination, **options):
        copy = real_snapshot_from(reader, destination, **options)
        if destination.name == "shard-0000.sqlite":  # shard 2 is not copied yet, but it is pinned
            live = sqlite3.connect(data / "meta" / "shard-0002.sqlite", isolation_level=None)
            live.execute("INSERT INTO events (pad) VALUES (x'01')")
            live.close()
        return copy

    monkeypatch.setattr(backup_take, "snapshot_from", copy_then_write_to_the_last_shard)
    take_backup(data, tmp_path / "backup")
    for index in range(3):
        copy = sqlite3.connect(tmp_path / "backup" / "meta" / f"shard-{index:04d}.sqlite")
        assert copy.execute("SELECT count(*) FROM events").fetchone() == (ROWS_BEFORE,)
        copy.close()


def test_blobs_of_a_post_deleted_during_the_backup_stay_in_it(tmp_path, monkeypatch):
    """The race the step order answers: the shards are pinned with a post in them, then
    the post is deleted (its blob's count drops to zero) and gc collects the old blob at
    once, all before the refcounts are pinned and the new blob files are copied."""
    data = tmp_path / "data"
    fake_data_dir(data, 1)
    key = old_referenced_blob(data / "blobs", b"an old photo")
    real_pin = backup_take.pin

    def delete_the_post_before_the_refcounts_are_pinned(reader):
        if reader.execute("PRAGMA database_list").fetchone()[2].endswith("refs.sqlite"):
            refs = sqlite3.connect(data / "blobs" / "refs.sqlite", isolation_level=None)
            refs.execute("DELETE FROM blobs WHERE key = ?", (key,))  # what decref to zero, then gc, leave
            refs.close()
            blob_path(data / "blobs", key).unlink()
        real_pin(reader)

    monkeypatch.setattr(backup_take, "pin", delete_the_post_before_the_refcounts_are_pinned)
    take_backup(data, tmp_path / "backup")
    assert not blob_path(data / "blobs", key).exists()  # gone from the live directory
    assert blob_path(tmp_path / "backup" / "blobs", key).read_bytes() == b"an old photo"
    refs = sqlite3.connect(tmp_path / "backup" / "blobs" / "refs.sqlite")
    assert refs.execute("SELECT refs FROM blobs WHERE key = ?", (key,)).fetchone() == (1,)  # still referenced
    refs.close()


async def test_a_failed_backup_leaves_nothing_that_looks_complete(client, config, tmp_path, monkeypatch):
    calls = []

    real_snapshot_from = backup_take.snapshot_from

    def fail_on_the_third_shard(reader, destination, **options):
        calls.append(destination)
        if len(calls) == 3:
            raise BackupError("the disk is full (simulated)")
        return real_snapshot_from(reader, destination, **options)

    monkeypatch.setattr(backup_take, "snapshot_from", fail_on_the_third_shard)
    with pytest.raises(BackupError, match="simulated"):
        take_backup(config.data_path, tmp_path / "backup")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


def write_config(tmp_path: Path) -> Path:
    config_file = tmp_path / "config.toml"
    config_file.write_text(FAST_TOML.format(data_dir=tmp_path / "unused", plugins=REPO / "plugins"))
    return config_file


async def test_the_command_refuses_a_directory_that_is_not_empty(client, config, tmp_path, capsys):
    config_file, target = write_config(tmp_path), tmp_path / "backup"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    command = ["admin", "backup", str(target), "--data-dir", str(config.data_path), "--config", str(config_file)]
    assert main(command) == 2
    assert "is not empty; a backup goes into a new or empty directory" in capsys.readouterr().err
    assert [path.name for path in target.iterdir()] == ["notes.txt"]
    (target / "notes.txt").unlink()
    assert main(command) == 0  # an empty directory is fine
    out = capsys.readouterr().out
    assert out.startswith(f"backup of {config.data_path.resolve()} in {target}: 4 shards") and out.count("\n") == 1
    assert msgspec.json.decode((target / MANIFEST).read_bytes(), type=Manifest).shard_count == 4
    assert main(["admin", "backup", str(tmp_path / "b2"), "--data-dir", str(tmp_path / "nothing"), "--config", str(config_file)]) == 2
    assert "is not an instamini data directory" in capsys.readouterr().err

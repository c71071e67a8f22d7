"""Restore: a checked backup replaces a data directory; a damaged one, or a directory in use, changes nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.cli import main
from instamini.stores.backup import BackupRefused
from instamini.stores.backup_blobs import blob_path
from instamini.stores.backup_restore import restore_backup
from instamini.stores.backup_take import take_backup
from tests.accounts.helpers import in_app
from tests.conftest import api_client_without_cookies, make_config, register
from tests.posts.helpers import blob_keys, make_post
from tests.stores.test_backup import write_config


@pytest.fixture
async def backed_up(client, config, alice, bob, tmp_path) -> tuple[Path, dict]:
    """A backup of a serving instance with a post and a like on it; and that post."""
    post = await make_post(client, alice, "before the backup")
    assert (await client.post(f"/api/v1/posts/{post['id']}/like", headers=bob.headers)).status_code in (200, 201)
    take_backup(config.data_path, tmp_path / "backup")
    return tmp_path / "backup", post


def tree(root: Path) -> dict[str, str]:
    """Every file under root and the sha256 of its bytes: to assert that nothing changed."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


async def test_a_restored_instance_has_the_users_the_post_its_like_and_its_bytes(config, tmp_path):
    async with AsyncTestClient(create_app(config)) as first:
        api_client_without_cookies(first)
        alice, bob = await register(first, "alice"), await register(first, "bob")
        post = await make_post(first, alice, "before the backup")
        assert (await first.post(f"/api/v1/posts/{post['id']}/like", headers=bob.headers)).status_code in (200, 201)
        take_backup(config.data_path, tmp_path / "backup")  # while the app is open
        urls = [variant["url"] for item in post["media"] for variant in item["variants"]]
        served = {url: (await first.get(url)).content for url in urls}
    restored = restore_backup(tmp_path / "backup", tmp_path / "restored")
    assert restored.moved_aside is None and not (tmp_path / "restored" / "cache").exists()
    async with AsyncTestClient(create_app(make_config(tmp_path / "restored"))) as second:
        api_client_without_cookies(second)
        login = await second.post("/api/v1/sessions", json={"username": "bob", "password": "correct horse"})
        assert login.status_code == 201, login.text
        as_bob = {"Authorization": f"Bearer {login.json()['token']}"}
        seen = (await second.get(f"/api/v1/posts/{post['id']}", headers=as_bob)).json()
        assert seen["caption"] == "before the backup" and seen["like_count"] == 1 and seen["liked"] is True
        assert {url: (await second.get(url)).content for url in urls} == served
        assert [in_app(second, second.app.state.blobs.refcount, key) for key in blob_keys(post)] == [1] * len(urls)


def truncate_a_shard(backup: Path) -> str:
    shard = backup / "meta" / "shard-0001.sqlite"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return "truncated"


def change_a_byte_of_a_shard(backup: Path) -> str:
    shard = backup / "meta" / "shard-0002.sqlite"
    data = bytearray(shard.read_bytes())
    data[-100] ^= 0x01
    shard.write_bytes(bytes(data))
    return "sha256"


def delete_a_blob(backup: Path, post: dict) -> str:
    key = blob_keys(post)[0]
    blob_path(backup / "blobs", key).unlink()
    return f"in use but absent: {key}"


def change_a_blob(backup: Path, post: dict) -> str:
    key = blob_keys(post)[-1]
    blob_path(backup / "blobs", key).write_bytes(b"not what was stored")
    return f"blob {key} does not hash to its name"


def delete_the_manifest(backup: Path) -> str:
    (backup / "manifest.json").unlink()
    return "has no manifest.json"


DAMAGES = {
    "truncated shard": lambda backup, post: truncate_a_shard(backup),
    "changed shard": lambda backup, post: change_a_byte_of_a_shard(backup),
    "missing blob": delete_a_blob,
    "changed blob": change_a_blob,
    "no manifest": lambda backup, post: delete_the_manifest(backup),
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
async def test_a_damaged_backup_is_refused_and_nothing_changes(backed_up, tmp_path, damage):
    backup, post = backed_up
    expected = damage(backup, post)
    old = tmp_path / "target"
    (old / "meta").mkdir(parents=True)
    (old / "meta" / "note").write_text("the data that was here")
    before = tree(old), tree(backup), sorted(path.name for path in tmp_path.iterdir())
    with pytest.raises(BackupRefused, match=expected):
        restore_backup(backup, old, force=True)
    # The target and the backup as they were; no temporary or moved-aside directory.
    assert (tree(old), tree(backup), sorted(path.name for path in tmp_path.iterdir())) == before


async def test_restoring_over_data_needs_force_and_then_moves_it_aside(backed_up, config, tmp_path, capsys):
    backup, _ = backed_up
    config_file, target = write_config(tmp_path), tmp_path / "target"
    target.mkdir()
    (target / "old.txt").write_text("older data")
    command = ["admin", "restore", str(backup), "--data-dir", str(target), "--config", str(config_file)]
    assert main(command) == 2
    assert "already has data" in capsys.readouterr().err and [p.name for p in target.iterdir()] == ["old.txt"]
    assert main([*command, "--force"]) == 0
    out = capsys.readouterr().out
    aside = [path for path in tmp_path.iterdir() if path.name.startswith("target.before-restore-")]
    assert len(aside) == 1 and (aside[0] / "old.txt").read_text() == "older data"
    assert f"the old data is in {aside[0]}" in out and out.count("\n") == 1
    assert (target / "meta" / "layout.json").is_file() and not (target / "old.txt").exists()


async def test_restoring_into_a_directory_a_server_has_open_is_refused(backed_up, config, tmp_path, capsys):
    backup, _ = backed_up  # the `client` app is still serving config.data_path
    before = tree(config.data_path)
    with pytest.raises(BackupRefused, match="is in use"):
        restore_backup(backup, config.data_path, force=True)
    command = ["admin", "restore", str(backup), "--data-dir", str(config.data_path), "--config", str(write_config(tmp_path))]
    assert main([*command, "--force"]) == 2
    assert "stop the server that has it open" in capsys.readouterr().err
    assert tree(config.data_path).keys() == before.keys()  # nothing moved (the live files' bytes may change)
    assert not [path for path in tmp_path.iterdir() if "before-restore" in path.name or "restoring" in path.name]


async def test_force_over_a_stopped_instance_keeps_the_old_shards_whole(backed_up, tmp_path):
    backup, _ = backed_up
    target = tmp_path / "target"
    restore_backup(backup, target)
    for shard in (target / "meta").glob("shard-*.sqlite"):  # as a server leaves them: WAL mode, a row more
        conn = sqlite3.connect(shard, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("INSERT INTO schema_versions (module, version) VALUES ('older data', 1)")
        conn.close()
    old = tree(target)
    restored = restore_backup(backup, target, force=True)  # locks every shard, moves it aside, then lets go
    aside = Path(restored.moved_aside)
    # The lock's connections leave an empty -wal beside each shard (SQLite deletes it by
    # the path it was opened at, which has moved): empty, so nothing to replay.
    empty = hashlib.sha256(b"").hexdigest()
    assert {name: digest for name, digest in tree(aside).items() if not (name.endswith("-wal") and digest == empty)} == old
    assert tree(target) == {name: digest for name, digest in tree(backup).items() if name != "manifest.json"}
    for shard in (aside / "meta").glob("shard-*.sqlite"):
        conn = sqlite3.connect(shard)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT version FROM schema_versions WHERE module = 'older data'").fetchone() == (1,)
        conn.close()
    for shard in (target / "meta").glob("shard-*.sqlite"):
        conn = sqlite3.connect(shard)
        assert conn.execute("SELECT count(*) FROM schema_versions WHERE module = 'older data'").fetchone() == (0,)
        conn.close()

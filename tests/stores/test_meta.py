"""ShardedMeta: one SQLite file per logical shard, a single writer each, group commit."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from instamini.stores.meta import ShardedMeta, shard_for_text

KV = "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)"
MIGRATIONS = {"test": [KV]}

# Collect-time mark: the conftest fixture then pins the backend to asyncio (the conftest
# hook alone marks too late, and anyio then also parametrizes over trio when installed).
pytestmark = pytest.mark.anyio


@asynccontextmanager
async def opened(root: Path, migrations=MIGRATIONS, **options) -> AsyncIterator[ShardedMeta]:
    meta = ShardedMeta(root, **options)
    await meta.open(migrations)
    try:
        yield meta
    finally:
        await meta.close()


def put(k: str, v: int):
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO kv (k, v) VALUES (?, ?)", (k, v))
        return v

    return job


def plain_rows(path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def shard_files(root: Path) -> list[Path]:
    return sorted(root.glob("shard-*.sqlite"))


# -- layout ------------------------------------------------------------------------------


async def test_layout_records_shard_count_and_reopen_keeps_it(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=4) as meta:
        assert meta.shard_count == 4
    assert json.loads((tmp_path / "layout.json").read_bytes())["shards"] == 4

    async with opened(tmp_path, shards=8) as meta:
        assert meta.shard_count == 4  # the recorded count wins: ids name their shard
        assert meta.shard_for_text("alice") == shard_for_text("alice", 4)
    assert json.loads((tmp_path / "layout.json").read_bytes())["shards"] == 4
    assert len(shard_files(tmp_path)) == 4


async def test_one_wal_file_per_shard_and_full_sync_writer(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=3) as meta:
        files = shard_files(tmp_path)
        assert [f.name for f in files] == ["shard-0000.sqlite", "shard-0001.sqlite", "shard-0002.sqlite"]
        assert [s.path for s in meta.shards] == files
        for index in range(3):
            synchronous = await meta.write(index, lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
            assert synchronous == 2  # FULL
            foreign_keys = await meta.write(index, lambda c: c.execute("PRAGMA foreign_keys").fetchone()[0])
            assert foreign_keys == 1
            # The reader is read-only.
            with pytest.raises(sqlite3.OperationalError):
                await meta.read(index, "INSERT INTO kv (k, v) VALUES ('x', 1)")
    for path in files:
        assert plain_rows(path, "PRAGMA journal_mode") == [("wal",)]


# -- migrations ---------------------------------------------------------------------------


def versions(path: Path) -> dict[str, int]:
    return dict(plain_rows(path, "SELECT module, version FROM schema_versions"))


def tables(path: Path) -> set[str]:
    return {name for (name,) in plain_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_migrations_run_once_and_later_scripts_apply_on_reopen(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=2) as meta:
        await meta.write(0, put("a", 1))
    for path in shard_files(tmp_path):
        assert versions(path) == {"test": 1}

    # Reopening with the same scripts runs nothing again: CREATE TABLE kv would fail if it did.
    async with opened(tmp_path, shards=2) as meta:
        assert [tuple(r) for r in await meta.read(0, "SELECT k, v FROM kv")] == [("a", 1)]

    second = {"test": [KV, "ALTER TABLE kv ADD COLUMN note TEXT; CREATE TABLE extra (x INTEGER)"], "other": [KV.replace("kv", "kv2")]}
    async with opened(tmp_path, second, shards=2) as meta:
        await meta.write(1, lambda c: c.execute("INSERT INTO kv (k, v, note) VALUES ('b', 2, 'n')"))
        rows = await meta.read(1, "SELECT k, v, note FROM kv")
        assert [tuple(r) for r in rows] == [("b", 2, "n")]
        # old data kept: the first script did not run again
        assert [tuple(r) for r in await meta.read(0, "SELECT k, v, note FROM kv")] == [("a", 1, None)]
    for path in shard_files(tmp_path):
        assert versions(path) == {"test": 2, "other": 1}
        assert {"kv", "extra", "kv2"} <= tables(path)


async def test_failing_migration_leaves_version_unchanged(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=2) as meta:
        await meta.write(0, put("a", 1))

    # The second script creates a table, then fails: the whole script must roll back.
    broken = {"test": [KV, "CREATE TABLE half (x INTEGER); CREATE TABLE kv (k TEXT)"]}
    meta = ShardedMeta(tmp_path, shards=2)
    with pytest.raises(sqlite3.OperationalError):
        await meta.open(broken)
    await meta.close()  # closes whatever did open

    for path in shard_files(tmp_path):
        assert versions(path) == {"test": 1}
        assert "half" not in tables(path)

    # A fixed script is then applied normally, and the data is intact.
    fixed = {"test": [KV, "CREATE TABLE half (x INTEGER)"]}
    async with opened(tmp_path, fixed, shards=2) as meta:
        assert [tuple(r) for r in await meta.read(0, "SELECT k, v FROM kv")] == [("a", 1)]
    for path in shard_files(tmp_path):
        assert versions(path) == {"test": 2}
        assert "half" in tables(path)


# -- writes --------------------------------------------------------------------------------


async def test_write_returns_result_and_read_sees_it(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=2) as meta:
        result = await meta.write(1, lambda c: c.execute("INSERT INTO kv (k, v) VALUES ('a', 7) RETURNING v").fetchone()[0])
        assert result == 7
        row = await meta.read_one(1, "SELECT k, v FROM kv WHERE k = ?", ("a",))
        assert row is not None and (row["k"], row["v"]) == ("a", 7)
        assert await meta.read_one(0, "SELECT k FROM kv WHERE k = ?", ("a",)) is None  # other shard
        await meta.write(1, lambda c: c.execute("UPDATE kv SET v = 8 WHERE k = 'a'"))
        assert (await meta.read_one(1, "SELECT v FROM kv WHERE k = 'a'"))["v"] == 8


async def test_failing_job_rolls_back_alone(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=1) as meta:
        await meta.write(0, put("taken", 0))
        writer = meta.shards[0].writer
        commits_before = writer.commits

        def bad(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO kv (k, v) VALUES ('bad-own-row', -1)")  # must vanish too
            conn.execute("INSERT INTO kv (k, v) VALUES ('taken', -2)")  # IntegrityError

        jobs = [put(f"k{i}", i) for i in range(50)]
        jobs[20] = bad
        results = await asyncio.gather(*(meta.write(0, job) for job in jobs), return_exceptions=True)

        assert writer.commits == commits_before + 1  # they really shared one transaction
        assert isinstance(results[20], sqlite3.IntegrityError)
        others = [r for i, r in enumerate(results) if i != 20]
        assert others == [i for i in range(50) if i != 20]

        rows = {r["k"]: r["v"] for r in await meta.read(0, "SELECT k, v FROM kv")}
        assert rows == {"taken": 0, **{f"k{i}": i for i in range(50) if i != 20}}
    rows = dict(plain_rows(tmp_path / "shard-0000.sqlite", "SELECT k, v FROM kv"))
    assert "bad-own-row" not in rows and len(rows) == 50


async def test_group_commit_groups(tmp_path: Path) -> None:
    async with opened(tmp_path / "grouped", shards=1, group_commit=True) as meta:
        writer = meta.shards[0].writer
        results = await asyncio.gather(*(meta.write(0, put(f"k{i}", i)) for i in range(200)))
        assert results == list(range(200))
        assert writer.jobs == 200
        assert writer.commits < writer.jobs // 10  # far fewer fsyncs than writes
        assert meta.stats() == {"shards": 1, "commits": writer.commits, "write_jobs": 200}
        assert len(await meta.read(0, "SELECT k FROM kv")) == 200


async def test_group_commit_respects_max_batch(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=1, group_commit=True, max_batch=16) as meta:
        writer = meta.shards[0].writer
        await asyncio.gather(*(meta.write(0, put(f"k{i}", i)) for i in range(200)))
        assert writer.jobs == 200
        assert -(-200 // 16) <= writer.commits < 200


async def test_without_group_commit_each_job_commits(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=1, group_commit=False) as meta:
        writer = meta.shards[0].writer
        results = await asyncio.gather(*(meta.write(0, put(f"k{i}", i)) for i in range(200)))
        assert results == list(range(200))
        assert writer.jobs == 200
        assert writer.commits == writer.jobs
        assert len(await meta.read(0, "SELECT k FROM kv")) == 200


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=4) as meta:
        for shard in range(4):
            await meta.write(shard, put(f"s{shard}", shard))
    async with opened(tmp_path, shards=4) as meta:
        for shard in range(4):
            rows = await meta.read(shard, "SELECT k, v FROM kv")
            assert [tuple(r) for r in rows] == [(f"s{shard}", shard)]


# -- reads -----------------------------------------------------------------------------------


async def test_read_by_shard_collects_rows_from_several_shards(tmp_path: Path) -> None:
    async with opened(tmp_path, shards=8) as meta:
        for shard in range(8):
            await meta.write(shard, put(f"s{shard}-a", shard * 10 + 1))
            await meta.write(shard, put(f"s{shard}-b", shard * 10 + 2))
        rows = await meta.read_by_shard(
            "SELECT k, v FROM kv WHERE v IN ({ids}) ORDER BY v",
            {0: [1, 2], 3: [31], 5: [], 7: [72, 999], 6: [11]},  # 11 lives on shard 1, not 6
        )
        assert sorted(tuple(r) for r in rows) == [("s0-a", 1), ("s0-b", 2), ("s3-a", 31), ("s7-b", 72)]
        assert await meta.read_by_shard("SELECT k FROM kv WHERE v IN ({ids})", {}) == []


async def test_shard_for_text_is_stable_and_spreads(tmp_path: Path) -> None:
    async with opened(tmp_path / "one", shards=8) as first, opened(tmp_path / "two", shards=8) as second:
        names = [f"user{i}" for i in range(1000)]
        placed = [first.shard_for_text(name) for name in names]
        assert placed == [second.shard_for_text(name) for name in names]
        assert all(0 <= s < 8 for s in placed)
        counts = [placed.count(s) for s in range(8)]
        assert all(count > 60 for count in counts), counts  # 125 each on average
    # Pinned values: the mapping must never change (it is not Python's salted hash()).
    assert [shard_for_text(n, 8) for n in ["alice", "bob", "carol", "#sunset", "émile"]] == [1, 2, 1, 7, 2]
    assert shard_for_text("alice", 13) == 10


# -- shutdown ----------------------------------------------------------------------------------


async def test_close_waits_for_queued_writes(tmp_path: Path) -> None:
    meta = ShardedMeta(tmp_path, shards=2)
    await meta.open(MIGRATIONS)
    tasks = [asyncio.create_task(meta.write(i % 2, put(f"k{i}", i))) for i in range(100)]
    await asyncio.sleep(0)  # every task has queued its job
    await meta.close()
    assert all(task.done() for task in tasks)
    assert [task.result() for task in tasks] == list(range(100))

    async with opened(tmp_path, shards=2) as meta:
        rows = await meta.read(0, "SELECT v FROM kv") + await meta.read(1, "SELECT v FROM kv")
        assert sorted(r["v"] for r in rows) == list(range(100))

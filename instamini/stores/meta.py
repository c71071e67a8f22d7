"""Relational metadata split across logical shards: one SQLite file per shard.

The idea (Instagram's logical shards on PostgreSQL, here on SQLite): the data is
cut into a fixed number of logical shards when the data directory is created.
Everything a user owns lives on one shard, so most requests touch one file; a
shard is a whole file, so moving it to another instance is a file copy. The
number never changes afterwards, because an object's shard is written into its id.

Writes: each shard has exactly one writer (a thread with its own connection).
Callers hand it a plain function `fn(conn) -> result`; the writer runs every job
that queued up while the previous commit was flushing in ONE transaction
(`BEGIN IMMEDIATE` ... `COMMIT`), each job inside its own SAVEPOINT so a failing
job rolls back alone. With `synchronous=FULL` a commit is one fsync, so N queued
writes cost one fsync instead of N: that is group commit. A caller's await
returns only after the commit, so an acknowledged write is durable.

Reads: WAL mode lets readers run beside the writer; each shard has an aiosqlite
connection (about 100 microseconds per call: a thread hop), which is why hot
paths read the LMDB cache first.

Moving a shard to another instance (cluster/shard_move.py) uses three more calls:
`freeze` (new writes fail fast with ShardMoving, the queued ones commit first),
`unfreeze`, and `replace_shard` (close, swap the file by rename, reopen).

Cost: one thread per shard for writes plus one for reads; one fsync per batch.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec

from ..errors import ShardMoving

log = logging.getLogger(__name__)
T = TypeVar("T")
WriteJob = Callable[[sqlite3.Connection], Any]
# module name -> ordered list of SQL scripts; version N is the Nth script.
Migrations = Mapping[str, Sequence[str]]


class Layout(msgspec.Struct):
    """What is fixed at creation of a data directory, recorded in meta/layout.json."""

    shards: int
    format: int = 1


def shard_for_text(text: str, shards: int) -> int:
    """A stable shard for a name (usernames, hashtags): same answer on every instance."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def _connect(path: Path, busy_timeout_ms: int, *, readonly: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    _set_pragmas(conn, busy_timeout_ms, readonly=readonly)
    return conn


def _set_pragmas(conn: sqlite3.Connection, busy_timeout_ms: int, *, readonly: bool) -> None:
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys=ON")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    else:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # the commit is durable when it returns


def apply_migrations(conn: sqlite3.Connection, migrations: Migrations) -> None:
    """Bring one shard's schema up to date: each module's scripts run once, in order."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_versions (module TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for module, scripts in migrations.items():
        row = conn.execute("SELECT version FROM schema_versions WHERE module = ?", (module,)).fetchone()
        current = row[0] if row else 0
        for version, script in enumerate(scripts[current:], start=current + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(script):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_versions (module, version) VALUES (?, ?) "
                    "ON CONFLICT (module) DO UPDATE SET version = excluded.version",
                    (module, version),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise


def _split_sql(script: str) -> list[str]:
    # executescript() would COMMIT on its own; splitting keeps each migration in one transaction.
    # A ';' ends a statement only where SQLite says the statement is complete, so a
    # CREATE TRIGGER keeps the ';'s of its BEGIN ... END body (and a string its own).
    statements, pending = [], []
    for piece in script.split(";"):
        pending.append(piece)
        text = ";".join(pending)
        if sqlite3.complete_statement(text + ";"):
            if text.strip():
                statements.append(text.strip())
            pending = []
    if ";".join(pending).strip():
        statements.append(";".join(pending).strip())
    return statements


class ShardWriter:
    """The single writer of one shard, with group commit."""

    def __init__(self, conn: sqlite3.Connection, *, group_commit: bool, max_batch: int) -> None:
        self._conn = conn
        self._group_commit = group_commit
        self._max_batch = max_batch
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-writer")
        self._queue: asyncio.Queue[tuple[WriteJob, asyncio.Future] | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._closing = False
        self._frozen: str | None = None  # why new writes are refused, while the shard moves
        self.commits = 0  # transactions committed (fsyncs), for metrics and the benchmark
        self.jobs = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="shard-writer")

    async def submit(self, job: WriteJob) -> Any:
        if self._frozen is not None:  # before _closing: a shard being replaced is moving, not broken
            raise ShardMoving(self._frozen)
        if self._closing:
            raise RuntimeError("the shard is closed; the write was not made")
        return await self._enqueue(job)

    async def _enqueue(self, job: WriteJob) -> Any:
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((job, future))
        return await future

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self, reason: str) -> None:
        """Refuse every new write with ShardMoving(reason); the queued ones still run (`drain`)."""
        self._frozen = reason

    def unfreeze(self) -> None:
        self._frozen = None

    async def drain(self) -> None:
        """Return once every job queued before this call has committed (or failed)."""
        if self._task is None or self._closing:
            return
        # A no-op job at the back of the FIFO queue: it commits with or after all of them.
        await self._enqueue(_nothing)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            # Everything that queued up while the last commit was flushing goes in this one.
            while self._group_commit and len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                outcomes = await loop.run_in_executor(self._thread, self._commit, [job for job, _ in batch])
            except Exception as error:  # the COMMIT itself failed: nothing in the batch is durable
                outcomes = [(False, error)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes):
                if future.done():  # the caller gave up waiting; the write happened or not as said
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _commit(self, jobs: list[WriteJob]) -> list[tuple[bool, Any]]:
        conn = self._conn
        outcomes: list[tuple[bool, Any]] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job in jobs:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((True, job(conn)))
                except Exception as error:
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((False, error))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.commits += 1
        self.jobs += len(jobs)
        return outcomes

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            # A stop marker behind the queued writes: they finish first, they may be promised.
            await self._queue.put(None)
            await self._task
        await asyncio.get_running_loop().run_in_executor(self._thread, self._conn.close)
        self._thread.shutdown(wait=True)


def _nothing(conn: sqlite3.Connection) -> None:
    return None


class Shard:
    """One logical shard: a SQLite file, its writer and a reader."""

    def __init__(self, index: int, path: Path) -> None:
        self.index = index
        self.path = path
        self.writer: ShardWriter | None = None
        self.reader: aiosqlite.Connection | None = None

    async def open(self, migrations: Migrations, *, group_commit: bool, max_batch: int, busy_timeout_ms: int) -> None:
        loop = asyncio.get_running_loop()
        conn = await loop.run_in_executor(None, functools.partial(_connect, self.path, busy_timeout_ms, readonly=False))
        await loop.run_in_executor(None, apply_migrations, conn, migrations)
        self.writer = ShardWriter(conn, group_commit=group_commit, max_batch=max_batch)
        self.writer.start()
        self.reader = await aiosqlite.connect(self.path, isolation_level=None)
        self.reader.row_factory = sqlite3.Row
        await self.reader.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        await self.reader.execute("PRAGMA query_only=ON")

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        if self.reader is not None:
            await self.reader.close()


def _swap_in(source: Path, target: Path, keep_previous: Path | None) -> None:
    # The closed shard's last connection checkpointed and removed its WAL; one left behind
    # (another process had the file open) would be replayed into the new file: remove it.
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    if keep_previous is not None:
        keep_previous.unlink(missing_ok=True)
        os.link(target, keep_previous)
    os.replace(source, target)
    descriptor = os.open(target.parent, os.O_RDONLY)  # the rename is durable once its directory is
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class ShardedMeta:
    """All logical shards of this data directory."""

    def __init__(
        self,
        root: Path,
        *,
        shards: int = 8,
        group_commit: bool = True,
        max_batch: int = 256,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.root = Path(root)
        self._requested_shards = shards
        self._options = dict(group_commit=group_commit, max_batch=max_batch, busy_timeout_ms=busy_timeout_ms)
        self._migrations: Migrations = {}
        self.shards: list[Shard] = []

    @property
    def shard_count(self) -> int:
        return len(self.shards)

    def _read_or_create_layout(self) -> Layout:
        self.root.mkdir(parents=True, exist_ok=True)
        layout_file = self.root / "layout.json"
        if layout_file.exists():
            layout = msgspec.json.decode(layout_file.read_bytes(), type=Layout)
            if layout.shards != self._requested_shards:
                log.warning(
                    "%s was created with %d shards; the configured %d is ignored (ids name their shard)",
                    self.root, layout.shards, self._requested_shards,
                )
            return layout
        layout = Layout(shards=self._requested_shards)
        temporary = layout_file.with_suffix(".tmp")
        temporary.write_bytes(msgspec.json.encode(layout))
        temporary.replace(layout_file)
        return layout

    async def open(self, migrations: Migrations) -> None:
        layout = self._read_or_create_layout()
        self._migrations = migrations
        self.shards = [Shard(i, self.root / f"shard-{i:04d}.sqlite") for i in range(layout.shards)]
        # Shards open one after another: migrations on a fresh directory are fsync-bound anyway.
        for shard in self.shards:
            await shard.open(migrations, **self._options)

    async def close(self) -> None:
        for shard in self.shards:
            await shard.close()

    def shard_for_text(self, text: str) -> int:
        return shard_for_text(text, self.shard_count)

    async def freeze(self, index: int, reason: str) -> int:
        """Refuse new writes to shard `index` (ShardMoving), then wait for the queued ones to commit.

        Returns how many queued writes committed meanwhile: when it returns, the file
        holds every write that was or will be acknowledged, and nothing more will change it."""
        writer = self.shards[index].writer
        writer.freeze(reason)
        before = writer.jobs
        await writer.drain()
        return max(writer.jobs - before - 1, 0)  # the drain's own no-op job is not a write

    def unfreeze(self, index: int) -> None:
        self.shards[index].writer.unfreeze()

    def is_frozen(self, index: int) -> bool:
        return self.shards[index].writer.frozen

    async def replace_shard(self, index: int, path: Path, *, keep_previous: Path | None = None) -> None:
        """Put the SQLite file at `path` in place of shard `index`: close the shard, rename, reopen.

        The rename is atomic (the shard's name holds the old file or the new one, never
        neither); `keep_previous` keeps the old file under that name (a hard link made
        before the rename), and if the new file will not open, the old one goes back.
        Writes arriving meanwhile get ShardMoving. `path` must be on the same file system."""
        old = self.shards[index]
        old.writer.freeze(f"shard {index} is being replaced by a copy; retry in a moment")
        await old.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, _swap_in, Path(path), old.path, keep_previous)
        new = Shard(index, old.path)
        try:
            await new.open(self._migrations, **self._options)
        except BaseException:
            await new.close()
            if keep_previous is None:
                raise
            await loop.run_in_executor(None, _swap_in, keep_previous, old.path, None)
            new = Shard(index, old.path)
            await new.open(self._migrations, **self._options)
            self.shards[index] = new
            raise
        self.shards[index] = new

    async def write(self, shard: int, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job(conn)` in the shard's next transaction; returns once it is durable."""
        return await self.shards[shard].writer.submit(job)

    async def read(self, shard: int, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One trip to the reader thread that runs the statement to its end. A statement
        # left open between trips (execute, then fetch) keeps the connection's read
        # snapshot: another read interleaved on the same connection would then see data
        # older than writes already acknowledged, and could put it in the cache.
        return list(await self.shards[shard].reader.execute_fetchall(sql, params))

    async def read_one(self, shard: int, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.read(shard, sql, params)
        return rows[0] if rows else None

    async def read_by_shard(self, sql_for_ids: str, ids_by_shard: Mapping[int, Sequence[int]]) -> list[sqlite3.Row]:
        """One query per shard for a batch of ids: `sql_for_ids` has one `{ids}` placeholder."""

        async def one(shard: int, ids: Sequence[int]) -> list[sqlite3.Row]:
            marks = ",".join("?" * len(ids))
            return await self.read(shard, sql_for_ids.format(ids=marks), list(ids))

        results = await asyncio.gather(*(one(s, ids) for s, ids in ids_by_shard.items() if ids))
        return [row for rows in results for row in rows]

    def stats(self) -> dict[str, int]:
        commits = sum(s.writer.commits for s in self.shards if s.writer)
        jobs = sum(s.writer.jobs for s in self.shards if s.writer)
        return {"shards": self.shard_count, "commits": commits, "write_jobs": jobs}

"""Each user's list of threads, kept on their own shard: `user_threads` and its outbox.

The idea (the graph's outbox, applied to an index): a thread's truth is on the
thread's shard; each member's row in `user_threads` on the member's shard is a copy
that makes "my threads, most recent first" one query. A change that moves those rows
(a new thread, a message, a request accepted) is committed on the thread's shard
together with the rows for that shard and one `messages_outbox` row per other shard
holding theirs; after the commit, `deliver()` writes them there and deletes the outbox
rows. A crash in between leaves the outbox rows, and `replay()` (at start, before the
first request) finishes them.

Rows only move forward: an upsert keeps the larger `last_activity_id`, and a thread
once in the inbox stays there. So applying a row twice, or after a newer one, changes
nothing: delivery needs no ordering and no lock.

Cost: per change, one write per other shard involved (concurrently) plus one to delete
the outbox rows; nothing when every member shares the thread's shard.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable

import msgspec

from ..ids import shard_of
from ..stores.meta import ShardedMeta


class UserThreadRow(msgspec.Struct, array_like=True, frozen=True):
    user_id: int
    thread_id: int
    last_activity_id: int
    folder: str
    peer_id: int | None


class Staged(msgspec.Struct, frozen=True):
    """An outbox row written in the thread's transaction: rows for one other shard."""

    outbox_id: int
    shard: int
    rows: list[UserThreadRow]


encode_rows = msgspec.msgpack.Encoder().encode
decode_rows = msgspec.msgpack.Decoder(list[UserThreadRow]).decode

_UPSERT = (
    "INSERT INTO user_threads (user_id, thread_id, last_activity_id, folder, peer_id) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (user_id, thread_id) DO UPDATE SET "
    "last_activity_id = max(user_threads.last_activity_id, excluded.last_activity_id), "
    "folder = CASE WHEN user_threads.folder = 'inbox' THEN 'inbox' ELSE excluded.folder END"
)


def apply_rows(conn: sqlite3.Connection, rows: Iterable[UserThreadRow]) -> None:
    conn.executemany(_UPSERT, [tuple(msgspec.structs.astuple(row)) for row in rows])


def stage(conn: sqlite3.Connection, thread_shard: int, rows: Iterable[UserThreadRow]) -> list[Staged]:
    """Inside the thread's transaction: apply the rows of this shard, queue the others'."""
    by_shard: dict[int, list[UserThreadRow]] = {}
    for row in rows:
        by_shard.setdefault(shard_of(row.user_id), []).append(row)
    apply_rows(conn, by_shard.pop(thread_shard, []))
    staged = []
    for shard, shard_rows in by_shard.items():
        outbox_id = conn.execute(
            "INSERT INTO messages_outbox (shard, rows) VALUES (?, ?)", (shard, encode_rows(shard_rows))
        ).lastrowid
        staged.append(Staged(outbox_id, shard, shard_rows))
    return staged


class UserIndex:
    def __init__(self, meta: ShardedMeta) -> None:
        self.meta = meta

    async def deliver(self, thread_shard: int, staged: list[Staged]) -> None:
        """After the thread's commit: write the other shards' rows, then drop the outbox rows."""
        if not staged:
            return
        await asyncio.gather(*(self.meta.write(item.shard, lambda conn, rows=item.rows: apply_rows(conn, rows)) for item in staged))
        done = [item.outbox_id for item in staged]
        marks = ",".join("?" * len(done))
        await self.meta.write(thread_shard, lambda conn: conn.execute(f"DELETE FROM messages_outbox WHERE id IN ({marks})", done))

    async def replay(self) -> int:
        """Deliver every outbox row a crash left behind. Returns how many."""
        replayed = 0
        for shard in range(self.meta.shard_count):
            rows = await self.meta.read(shard, "SELECT id, shard, rows FROM messages_outbox ORDER BY id")
            for row in rows:
                await self.deliver(shard, [Staged(row["id"], row["shard"], decode_rows(row["rows"]))])
                replayed += 1
        return replayed

    async def direct_thread(self, user_id: int, peer_id: int) -> int | None:
        """The one-to-one thread between the two, if there is one."""
        row = await self.meta.read_one(
            shard_of(user_id),
            "SELECT thread_id FROM user_threads WHERE user_id = ? AND peer_id = ? ORDER BY thread_id LIMIT 1",
            (user_id, peer_id),
        )
        return None if row is None else row["thread_id"]

    async def newest(self, user_id: int, folder: str, before: int, limit: int) -> list[tuple[int, int]]:
        """(last_activity_id, thread_id) of the user's threads in a folder, most recent first."""
        rows = await self.meta.read(
            shard_of(user_id),
            "SELECT last_activity_id, thread_id FROM user_threads WHERE user_id = ? AND folder = ? "
            "AND last_activity_id < ? ORDER BY last_activity_id DESC LIMIT ?",
            (user_id, folder, before, limit),
        )
        return [(row["last_activity_id"], row["thread_id"]) for row in rows]

"""Each user's list of threads, kept on their own shard: `user_threads` and its outbox.

The idea (the graph's outbox, applied to an index): a thread's truth is on the
thread's shard; each member's row in `user_threads` on the member's shard is a copy
that makes "my threads, most recent first" one query. A change that moves those rows
(a new thread, a message, a request accepted) is committed on the thread's shard
together with the rows for that shard and one `messages_outbox` row per other shard
holding theirs; after the commit, `deliver()` writes them there and deletes the outbox
rows. A crash in between leaves the outbox rows, and `replay()` (at start, before the
first request) finishes them.

In a cluster a member's shard may be another instance's: the rows travel to its owner
as plain data (`apply`, a forwarded method), one call per shard, all at once. A row
its owner did not take (that instance is down) stays in the outbox, and `replay()`,
which each instance runs on its own shards only, at start and then every few seconds
(messages/plugin.py), delivers it once the owner answers. Reading a user's index
(`newest`, `direct_thread`) runs on that user's owner too.

Rows only move forward: an upsert keeps the larger `last_activity_id`, and a thread
once in the inbox stays there. So applying a row twice, or after a newer one, changes
nothing: delivery needs no ordering and no lock.

Cost: per change, one write per other shard involved (concurrently) plus one to delete
the outbox rows; nothing when every member shares the thread's shard. In a cluster, a
shard of another instance costs a round trip instead of a local write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Container, Iterable

import msgspec

from ..cluster.forward import local_shards, owned
from ..ids import shard_of
from ..stores.meta import ShardedMeta

log = logging.getLogger(__name__)
REPLAY_PAGE = 256  # outbox rows read and delivered at a time


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
        self.cluster = None  # in a cluster, each shard's rows are written and read by its owner

    @owned(lambda self, shard, rows: shard)
    async def apply(self, shard: int, rows: list[UserThreadRow]) -> None:
        """Write user-side rows on their shard (on its owner). Applying them twice is harmless."""
        await self.meta.write(shard, lambda conn: apply_rows(conn, rows))

    async def deliver(self, thread_shard: int, staged: list[Staged], skip: Container[int] = ()) -> set[int]:
        """After the thread's commit: write the other shards' rows (one write per shard, however
        many outbox rows hold them), then drop the outbox rows of those written. Rows for a
        shard that could not be written, or is in `skip`, stay for `replay`. Returns the shards
        that could not be written."""
        by_shard: dict[int, list[Staged]] = {}
        for item in staged:
            if item.shard not in skip:
                by_shard.setdefault(item.shard, []).append(item)
        if not by_shard:
            return set()
        shards = list(by_shard)
        rows = [[row for item in by_shard[shard] for row in item.rows] for shard in shards]
        outcomes = await asyncio.gather(*map(self.apply, shards, rows), return_exceptions=True)
        failed, done = set(), []
        for shard, outcome in zip(shards, outcomes):
            if isinstance(outcome, BaseException):
                failed.add(shard)
                log.warning("thread index rows for shard %d wait in the outbox of shard %d: %r", shard, thread_shard, outcome)
            else:
                done += [item.outbox_id for item in by_shard[shard]]
        if done:
            marks = ",".join("?" * len(done))
            await self.meta.write(thread_shard, lambda conn: conn.execute(f"DELETE FROM messages_outbox WHERE id IN ({marks})", done))
        return failed

    def local_shards(self) -> Iterable[int]:
        """The shards whose outbox this instance replays: its own (every shard on a single instance)."""
        return local_shards(self)

    async def replay(self) -> int:
        """Deliver the outbox rows of this instance's shards (what a crash or an unreachable
        owner left behind), a page at a time; a shard that fails once is not tried again in
        this round. Returns how many outbox rows were delivered."""
        delivered = 0
        for shard in self.local_shards():
            after, unreachable = 0, set()
            while True:
                rows = await self.meta.read(
                    shard, "SELECT id, shard, rows FROM messages_outbox WHERE id > ? ORDER BY id LIMIT ?", (after, REPLAY_PAGE)
                )
                staged = [Staged(row["id"], row["shard"], decode_rows(row["rows"])) for row in rows]
                unreachable |= await self.deliver(shard, staged, unreachable)
                delivered += sum(item.shard not in unreachable for item in staged)
                if len(rows) < REPLAY_PAGE:
                    break
                after = rows[-1]["id"]
        return delivered

    @owned(lambda self, user_id, peer_id: shard_of(user_id))
    async def direct_thread(self, user_id: int, peer_id: int) -> int | None:
        """The one-to-one thread between the two, if there is one."""
        row = await self.meta.read_one(
            shard_of(user_id),
            "SELECT thread_id FROM user_threads WHERE user_id = ? AND peer_id = ? ORDER BY thread_id LIMIT 1",
            (user_id, peer_id),
        )
        return None if row is None else row["thread_id"]

    @owned(lambda self, user_id, *_: shard_of(user_id))
    async def newest(self, user_id: int, folder: str, before: int, limit: int) -> list[tuple[int, int]]:
        """(last_activity_id, thread_id) of the user's threads in a folder, most recent first."""
        rows = await self.meta.read(
            shard_of(user_id),
            "SELECT last_activity_id, thread_id FROM user_threads WHERE user_id = ? AND folder = ? "
            "AND last_activity_id < ? ORDER BY last_activity_id DESC LIMIT ?",
            (user_id, folder, before, limit),
        )
        return [(row["last_activity_id"], row["thread_id"]) for row in rows]

"""Bulk loading of the shards: exclusive, unsynchronised SQLite connections and big batches.

The idea: the server writes a row at a time with an fsync per group commit; a bulk
load of millions of rows cannot afford that. So the demo opens every shard file
itself, takes SQLite's EXCLUSIVE lock for the whole run (which also proves that no
server has the directory open, and keeps one from opening it meanwhile), turns
`synchronous` off, inserts with `executemany` in key order (B-tree appends), commits
once per phase, and at the end checkpoints the WAL with `synchronous` back on (one
fsync per file).

The rows are those the services would write: the INSERT statements name the same
columns, and `edge_rows` / `people_rows` mirror accounts.service.register and
graph.edges.apply_ops (both halves of a follow, counters only for accepted ones).

Cost: roughly a microsecond per row in SQLite; the WAL holds each phase once before
the checkpoint copies it into the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..graph.edges import COUNTED, MIRROR
from .network import FollowGraph, People

CACHE_KIB = 131_072  # page cache per shard while loading: big enough that B-tree inserts rarely read back

INSERTS = {
    "users": "INSERT INTO users (id, username, display_name, bio, private, avatar_media_id, password_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "usernames": "INSERT INTO usernames (username, user_id) VALUES (?, ?)",
    "sessions": "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
    "edges": "INSERT INTO edges (src, kind, dst, id) VALUES (?, ?, ?, ?)",
    "counters": "INSERT INTO counters (object_id, name, value) VALUES (?, ?, ?)",
    "media": "INSERT INTO media (id, owner_id, kind, status, alt_text, width, height, placeholder, variants, "
    "post_id, position, upload_bytes, created_ms) VALUES (?, ?, 'image', 'ready', '', ?, ?, ?, ?, ?, ?, ?, ?)",
    "posts": "INSERT INTO posts (id, author_id, kind, caption, hashtags, mention_ids) VALUES (?, ?, 'post', ?, ?, ?)",
    "post_tags": "INSERT INTO post_tags (tag, post_id) VALUES (?, ?)",
    "post_mentions": "INSERT INTO post_mentions (post_id, user_id) VALUES (?, ?)",
    "likes": "INSERT INTO likes (post_id, user_id, id) VALUES (?, ?, ?)",
    "comments": "INSERT INTO comments (id, post_id, author_id, parent_id, reply_to_id, text) VALUES (?, ?, ?, ?, ?, ?)",
}


class DataDirInUse(Exception):
    """A shard is open elsewhere (a running server, say): the demo will not write under it."""


class BulkLoad:
    """Every shard of a data directory, locked for one bulk load. Use as a context manager."""

    def __init__(self, meta_dir: Path, shards: int) -> None:
        self.paths = [Path(meta_dir) / f"shard-{i:04d}.sqlite" for i in range(shards)]
        self.conns: list[sqlite3.Connection] = []
        self.rows = 0

    def __enter__(self) -> BulkLoad:
        try:
            for path in self.paths:
                self.conns.append(_locked(path))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def count(self, sql: str) -> int:
        """The sum of a `SELECT count(*) ...` over every shard."""
        return sum(conn.execute(sql).fetchone()[0] for conn in self.conns)

    def add(self, shard: int, table: str, rows: Iterable[tuple]) -> int:
        """Insert rows (any iterable, consumed lazily) into a shard's table; returns how many."""
        before = self.conns[shard].total_changes
        self.conns[shard].executemany(INSERTS[table], rows)
        added = self.conns[shard].total_changes - before
        self.rows += added
        return added

    def commit(self) -> None:
        """End the current phase on every shard (a commit without fsync) and start the next."""
        for conn in self.conns:
            conn.execute("COMMIT")
            conn.execute("BEGIN EXCLUSIVE")

    def finish(self) -> None:
        """Commit, then fold the WAL into the database files durably: with `synchronous`
        back on, the checkpoint fsyncs the WAL before copying it and the file after."""
        for conn in self.conns:
            conn.execute("COMMIT")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.close()

    def close(self) -> None:
        for conn in self.conns:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
        self.conns = []


def _locked(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.2)
    try:
        # EXCLUSIVE locking mode keeps the lock from the first transaction until close;
        # any open connection of a server (even an idle one) makes BEGIN EXCLUSIVE fail.
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("PRAGMA synchronous=OFF")  # one fsync at the end instead of one per commit
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        conn.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as error:
        conn.close()
        raise DataDirInUse(f"{path} is in use ({error}): stop the server that has it open") from None
    return conn


# -- rows of the accounts and graph tables ----------------------------------------------


def people_rows(people: People, members: list[int], password_hash: str, avatar_ids: dict[int, int]) -> Iterator[tuple]:
    """`users` rows of one shard's people, as accounts.service.register writes them."""
    for person in members:
        yield (
            people.ids[person],
            people.names[person],
            people.display_names[person],
            people.bios[person],
            people.private[person],
            avatar_ids.get(person),
            password_hash,
        )


def username_rows(people: People, members: list[int]) -> list[tuple]:
    # The reservation lives on the shard the name hashes to, which is the user's shard.
    return sorted((people.names[person], people.ids[person]) for person in members)


def edge_rows(graph: FollowGraph, people: People, members: list[int]) -> Iterator[tuple]:
    """Both halves of every follow touching one shard's people, seen from them, by source id:
    `following`/`requested` for their own follows, `follower`/`request_from` for those they receive."""
    ids = people.ids
    for person in members:
        me = ids[person]
        for edge in graph.targets(person):
            yield me, "requested" if graph.pending[edge] else "following", ids[graph.dst[edge]], graph.edge_ids[edge]
        for position in graph.sources(person):
            edge = graph.in_edges[position]
            kind = MIRROR["requested"] if graph.pending[edge] else MIRROR["following"]
            yield me, kind, ids[graph.src[edge]], graph.edge_ids[edge]


def follow_counter_rows(graph: FollowGraph, people: People, members: list[int]) -> Iterator[tuple]:
    """The counters apply_ops keeps for accepted follows (absent, not zero, when none)."""
    for person in members:
        for name, counts in ((COUNTED["follower"], graph.followers), (COUNTED["following"], graph.following)):
            if counts[person]:
                yield people.ids[person], name, counts[person]

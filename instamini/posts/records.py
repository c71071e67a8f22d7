"""The `posts` table and its index rows: the SQL that a post's writes run, and the batched load.

As in media/records.py, the writers are plain functions of a SQLite connection, run
inside a shard's write job, so that the caller composes them into one transaction.
`hashtags` and `mention_ids` are stored on the post as JSON (what is shown, in
caption order) and again as index rows (`post_tags`, `post_mentions`, for lookups);
the index rows are always rewritten from the stored lists, read inside the same
write, so two racing edits cannot leave a stale tag behind.

Cost: a create or a caption edit writes one row plus one per tag and mention;
`load_posts` is one query per shard for the posts and one per shard for their media.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable

import msgspec

from ..errors import NotFound
from ..ids import group_by_shard
from ..media import records as media_records
from ..media.records import MediaRecord
from ..stores.meta import ShardedMeta

POST_COLUMNS = "id, author_id, kind, caption, hashtags, mention_ids, edited_ms"
_encode = msgspec.json.encode
_tags = msgspec.json.Decoder(list[str]).decode
_ids = msgspec.json.Decoder(list[int]).decode


class PostRecord(msgspec.Struct, array_like=True, frozen=True):
    """A post as cached: its row and its media, in carousel order."""

    id: int
    author_id: int
    kind: str
    caption: str
    hashtags: list[str]
    mention_ids: list[int]
    edited_ms: int | None
    media: list[MediaRecord]


class PostCard(msgspec.Struct, array_like=True, frozen=True):
    """A cached post read for showing: PostRecord's layout, with the media left encoded.

    The same cache entry decodes as either; lists of posts use this one, so that the
    media (the bulk of an entry: items, variants, URLs) is decoded only when its JSON
    is not already at hand (see posts/views.py, EncodedMedia).
    """

    id: int
    author_id: int
    kind: str
    caption: str
    hashtags: list[str]
    mention_ids: list[int]
    edited_ms: int | None
    media: msgspec.Raw


_media_list = msgspec.msgpack.Decoder(list[MediaRecord]).decode


def media_of(card: PostCard) -> list[MediaRecord]:
    return _media_list(card.media)


def as_card(record: PostRecord) -> PostCard:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(record), type=PostCard)


def earlier_post(conn: sqlite3.Connection, author_id: int, idempotency_key: str) -> int | None:
    """The post that an earlier request with this key made, if any."""
    row = conn.execute(
        "SELECT id FROM posts WHERE author_id = ? AND idempotency_key = ?", (author_id, idempotency_key)
    ).fetchone()
    return None if row is None else row[0]


def insert_post(conn: sqlite3.Connection, record: PostRecord, idempotency_key: str | None) -> None:
    conn.execute(
        "INSERT INTO posts (id, author_id, kind, caption, hashtags, mention_ids, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record.id,
            record.author_id,
            record.kind,
            record.caption,
            _encode(record.hashtags),
            _encode(record.mention_ids),
            idempotency_key,
        ),
    )
    _index_terms(conn, record.id, record.hashtags, record.mention_ids)


def current_terms(conn: sqlite3.Connection, post_id: int) -> tuple[list[str], list[int]]:
    """The post's hashtags and mentioned ids as stored; NotFound if it is gone (a delete
    may have committed after the caller checked who may change the post)."""
    row = conn.execute("SELECT hashtags, mention_ids FROM posts WHERE id = ?", (post_id,)).fetchone()
    if row is None:
        raise NotFound(f"no post {post_id}")
    return _tags(row[0]), _ids(row[1])


def set_caption(conn: sqlite3.Connection, post_id: int, caption: str, tags: list[str], mention_ids: list[int]) -> None:
    _unindex_terms(conn, post_id)
    conn.execute(
        "UPDATE posts SET caption = ?, hashtags = ?, mention_ids = ? WHERE id = ?",
        (caption, _encode(tags), _encode(mention_ids), post_id),
    )
    _index_terms(conn, post_id, tags, mention_ids)


def mark_edited(conn: sqlite3.Connection, post_id: int, now_ms: int) -> None:
    conn.execute("UPDATE posts SET edited_ms = ? WHERE id = ?", (now_ms, post_id))


def delete_post(conn: sqlite3.Connection, post_id: int) -> None:
    """The post's row, index rows, likes, comments and counters (not its media: see
    media_records.release_post, whose blob keys the caller must let go of)."""
    _unindex_terms(conn, post_id)
    conn.execute("DELETE FROM likes WHERE post_id = ?", (post_id,))
    conn.execute("DELETE FROM comments WHERE post_id = ?", (post_id,))
    # Its like and comment counters would otherwise outlive it.
    conn.execute("DELETE FROM counters WHERE object_id = ?", (post_id,))
    conn.execute("DELETE FROM posts WHERE id = ?", (post_id,))


def _index_terms(conn: sqlite3.Connection, post_id: int, tags: Iterable[str], mention_ids: Iterable[int]) -> None:
    conn.executemany("INSERT INTO post_tags (tag, post_id) VALUES (?, ?)", [(tag, post_id) for tag in tags])
    conn.executemany(
        "INSERT INTO post_mentions (post_id, user_id) VALUES (?, ?)", [(post_id, user_id) for user_id in mention_ids]
    )


def _unindex_terms(conn: sqlite3.Connection, post_id: int) -> None:
    tags, _ = current_terms(conn, post_id)
    conn.executemany("DELETE FROM post_tags WHERE tag = ? AND post_id = ?", [(tag, post_id) for tag in tags])
    conn.execute("DELETE FROM post_mentions WHERE post_id = ?", (post_id,))


async def load_posts(meta: ShardedMeta, post_ids: list[int]) -> dict[int, PostRecord]:
    """Posts with their media; ids of posts that do not exist are left out."""
    rows, media = await asyncio.gather(
        meta.read_by_shard(f"SELECT {POST_COLUMNS} FROM posts WHERE id IN ({{ids}})", group_by_shard(post_ids)),
        media_records.load_for_posts(meta, post_ids),
    )
    return {
        row["id"]: PostRecord(
            id=row["id"],
            author_id=row["author_id"],
            kind=row["kind"],
            caption=row["caption"],
            hashtags=_tags(row["hashtags"]),
            mention_ids=_ids(row["mention_ids"]),
            edited_ms=row["edited_ms"],
            media=media.get(row["id"], []),
        )
        for row in rows
    }

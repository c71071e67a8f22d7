"""Reading and writing the stories tables: plain functions of a SQLite connection.

The idea: claiming the media, writing the story, and later deleting both, each
happen in one transaction on the author's shard (see migrations.py for why the
media row points at the story through `post_id`). Deleting returns the blob keys
to decref once the write has committed, as deleting a post does.

Cost: claiming is two indexed SELECTs and an UPDATE; expiring is one range scan
of `stories_expiry` plus a delete per expired story.
"""

from __future__ import annotations

import sqlite3

import msgspec

from ..errors import Conflict
from ..media import records as media_records
from ..media.records import MediaRecord


class StoryRecord(msgspec.Struct, frozen=True):
    id: int
    author_id: int
    media: MediaRecord
    created_ms: int
    expires_ms: int


# The story's columns, then the media's: one row is a whole story.
MEDIA_COLUMNS = ", ".join(f"m.{column.strip()}" for column in media_records.COLUMNS.split(","))
SELECT = f"SELECT s.id, s.author_id, s.created_ms, s.expires_ms, {MEDIA_COLUMNS} FROM stories s JOIN media m ON m.id = s.media_id"


def story_from_row(row) -> StoryRecord:
    values = tuple(row)
    return StoryRecord(values[0], values[1], media_records.record_from_row(values[4:]), values[2], values[3])


def _sent_in_a_message(conn: sqlite3.Connection, media_id: int) -> bool:
    # The messages module may be switched off: then its table does not exist.
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_media'").fetchone():
        return False
    return conn.execute("SELECT 1 FROM message_media WHERE media_id = ?", (media_id,)).fetchone() is not None


def insert_story(
    conn: sqlite3.Connection, story_id: int, author_id: int, media_id: int, now_ms: int, expires_ms: int
) -> StoryRecord:
    """Claim a ready upload of the author's (as posts do) and write the story; on their shard."""
    if _sent_in_a_message(conn, media_id):
        raise Conflict(f"media_id: {media_id} was sent in a message; upload it again to share it")
    (media,) = media_records.claim_for_post(conn, author_id, [media_id], story_id)
    conn.execute(
        "INSERT INTO stories (id, author_id, media_id, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
        (story_id, author_id, media_id, now_ms, expires_ms),
    )
    return StoryRecord(story_id, author_id, media, now_ms, expires_ms)


def mark_seen(conn: sqlite3.Connection, story_id: int, viewer_id: int, now_ms: int) -> bool:
    """True if this is the first time the viewer saw the story."""
    return bool(
        conn.execute(
            "INSERT OR IGNORE INTO story_views (story_id, viewer_id, seen_ms) VALUES (?, ?, ?)",
            (story_id, viewer_id, now_ms),
        ).rowcount
    )


def delete_expired(conn: sqlite3.Connection, now_ms: int) -> tuple[list[tuple[int, int]], list[str]]:
    """Delete the stories past their end, their views and their media; ([(story, author)], blob keys)."""
    gone = [(row[0], row[1]) for row in conn.execute("SELECT id, author_id FROM stories WHERE expires_ms <= ?", (now_ms,))]
    keys: list[str] = []
    for story_id, _ in gone:
        keys += _delete(conn, story_id)
    return gone, keys


def delete_story(conn: sqlite3.Connection, story_id: int) -> tuple[int | None, list[str]]:
    """Delete one story now (a takedown), its views and its media; (its author or None, blob keys)."""
    row = conn.execute("SELECT author_id FROM stories WHERE id = ?", (story_id,)).fetchone()
    return (None, []) if row is None else (row[0], _delete(conn, story_id))


def _delete(conn: sqlite3.Connection, story_id: int) -> list[str]:
    conn.execute("DELETE FROM story_views WHERE story_id = ?", (story_id,))
    conn.execute("DELETE FROM stories WHERE id = ?", (story_id,))
    return media_records.release_post(conn, story_id)  # the media rows whose post_id is the story

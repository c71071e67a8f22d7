"""Photos sent in messages: claiming an upload, and keeping it alive while a message shows it.

The idea: an upload belongs to the media module, which deletes uploads that no post
uses after `unused_media_hours` and lets go of their blobs. A photo sent in a message
is recorded in `message_media` on the sender's shard, beside the media row, so every
check is one transaction on one shard:

- claiming refuses someone else's upload, one still processing or failed, a video,
  and one already in a post or in another message;
- the posts module runs `refuse_sent_media` inside every post's create transaction,
  so a sent photo cannot then go in a post (whose delete would free its blobs);
- the media janitor's DELETE skips sent photos: the module hands it
  `UNUSED_MEDIA_FILTER` (`MediaService.keep_clauses`) at start.

Sent photos are kept for good (messages cannot be deleted yet). Cost: one indexed
SELECT and one INSERT per photo sent; one primary-key probe per post item and per
row the janitor deletes.
"""

from __future__ import annotations

import sqlite3

from ..errors import Conflict, InvalidInput
from ..media import records as media_records
from ..media.records import MediaRecord
from ..posts.records import PostRecord

# For the media janitor's DELETE: leave alone the uploads that a message shows.
UNUSED_MEDIA_FILTER = "id NOT IN (SELECT media_id FROM message_media)"


def claim(conn: sqlite3.Connection, owner_id: int, media_id: int, thread_id: int, message_id: int) -> MediaRecord:
    """Mark one of the owner's ready photos as sent in a message; run on the owner's shard."""
    record = media_records.own_upload(conn, owner_id, media_id, "media_id")
    if record.status == "processing":
        raise InvalidInput(f"media_id: {media_id} is still processing; send it once its status is ready")
    if record.kind != "image":
        raise InvalidInput(f"media_id: {media_id} is a {record.kind}; only photos can be sent in a message")
    if record.post_id is not None:
        raise InvalidInput(f"media_id: {media_id} is already in a post; upload it again to send it")
    if conn.execute("SELECT 1 FROM message_media WHERE media_id = ?", (media_id,)).fetchone():
        raise InvalidInput(f"media_id: {media_id} was already sent in a message; upload it again")
    conn.execute(
        "INSERT INTO message_media (media_id, thread_id, message_id) VALUES (?, ?, ?)", (media_id, thread_id, message_id)
    )
    return record


def release(conn: sqlite3.Connection, media_id: int, message_id: int) -> None:
    """Undo a claim whose message was not stored after all."""
    conn.execute("DELETE FROM message_media WHERE media_id = ? AND message_id = ?", (media_id, message_id))


def refuse_sent_media(conn: sqlite3.Connection, post: PostRecord) -> None:
    """A posts create hook: a photo sent in a message cannot also be posted (rolls the post back)."""
    for item in post.media:
        if conn.execute("SELECT 1 FROM message_media WHERE media_id = ?", (item.id,)).fetchone():
            raise Conflict(f"media_ids: {item.id} was sent in a message; upload it again to post it")

"""Removing content as an admin: the same records and release calls as the author's
own delete (PostsService.delete, Comments.delete), without the author check.

Cost: one transaction on the content's shard, plus a decref per media blob of a post.
"""

from __future__ import annotations

import sqlite3

from ..errors import NotFound
from ..ids import shard_of
from ..media import records as media_records
from ..posts import records
from ..stores.counters import bump


async def remove_post(state, post_id: int) -> None:
    posts = state.posts
    record = (await posts.load_records([post_id])).get(post_id)
    if record is None:
        raise NotFound(f"no post {post_id}")
    author_id = record.author_id

    def remove(conn: sqlite3.Connection) -> list[str]:
        records.delete_post(conn, post_id)
        bump(conn, author_id, "posts", -1)
        return media_records.release_post(conn, post_id)

    blob_keys = await posts.meta.write(shard_of(post_id), remove)
    posts.post_cache.delete(post_id)
    posts.counters.invalidate(author_id, post_id)
    for callback in posts.after_delete:
        callback(author_id, post_id)
    for key in blob_keys:
        await posts.blobs.decref(key)
    posts.emit("post.deleted", post_id=post_id, author_id=author_id)


async def remove_comment(state, comment_id: int) -> None:
    posts = state.posts
    row = await posts.meta.read_one(shard_of(comment_id), "SELECT post_id FROM comments WHERE id = ?", (comment_id,))
    if row is None:
        raise NotFound(f"no comment {comment_id}")
    post_id = row["post_id"]

    def remove(conn: sqlite3.Connection) -> int:
        removed = conn.execute("DELETE FROM comments WHERE id = ?", (comment_id,)).rowcount
        removed += conn.execute(
            "DELETE FROM comments WHERE post_id = ? AND parent_id = ?", (post_id, comment_id)
        ).rowcount
        bump(conn, post_id, "comments", -removed)
        return removed

    await posts.meta.write(shard_of(comment_id), remove)
    posts.counters.invalidate(post_id)

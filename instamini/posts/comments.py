"""Comments, with one level of replies as Instagram has them.

A comment lives on its post's shard, and its id is made for that shard, so
`DELETE /comments/{id}` finds it from the id alone and adding or deleting one
moves the post's "comments" counter (replies included) in the same transaction.
Replies are one level deep: a reply to a reply joins the thread of its top-level
comment (`parent_id`) and remembers what it answered (`reply_to_id`). Deleting a
top-level comment deletes its thread with it.

A page of comments is the top-level ones, oldest first, each with its
`reply_count` and its first REPLY_PREVIEW replies; the rest of a thread pages
through `GET /comments/{id}/replies?cursor=<id of the last reply shown>`.

Spam: before a comment is stored, every check in `spam_checks` (author id, text ->
is it spam?) is asked; the moderation module appends its model there. A comment any
check calls spam is stored with `spam` = 1 and answered as usual (a spammer learns
nothing), but only its author ever sees it: it is left out of everyone else's pages
and reply counts, it does not count on the post, and it fires no "comment.created"
(so nobody is notified of it).

Cost: adding or deleting is one transaction; a page is two queries on the post's
shard (the comments, then every thread's preview and count in one windowed
query) and the authors from the users cache. In a cluster every method runs on the
owner of the post's shard (a comment's id names it too): one round trip from elsewhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from ..accounts.service import UserRecord
from ..cluster.forward import owned
from ..errors import Forbidden, InvalidInput, NotFound
from ..ids import shard_of
from ..ranker.spam import SpamCheck, any_spam
from ..stores.counters import bump
from .records import PostRecord
from .service import check_length, decode_cursor

if TYPE_CHECKING:
    from .service import PostsService

REPLY_PREVIEW = 3
COMMENT_COLUMNS = "id, post_id, author_id, parent_id, reply_to_id, text"
# SQL (one parameter: the viewer): the comments a viewer may see, their own spam included.
SEEN_BY = "(spam = 0 OR author_id IS ?)"


class CommentRecord(msgspec.Struct, frozen=True):
    id: int
    post_id: int
    author_id: int
    parent_id: int | None
    reply_to_id: int | None
    text: str


class CommentView(msgspec.Struct, frozen=True):
    record: CommentRecord
    author: UserRecord
    reply_count: int = 0
    replies: list[CommentView] = []


class CommentPage(msgspec.Struct):
    comments: list[CommentView]
    next_cursor: str | None


def _record(row: sqlite3.Row) -> CommentRecord:
    return CommentRecord(*(row[column] for column in ("id", "post_id", "author_id", "parent_id", "reply_to_id", "text")))


class Comments:
    def __init__(self, posts: PostsService, emit: Callable[..., None]) -> None:
        self.posts, self.meta, self.emit = posts, posts.meta, emit
        # Asked before a comment is stored: (author id, text) -> is it spam? (see the docstring)
        self.spam_checks: list[SpamCheck] = []
        self.cluster = None  # cluster/forward.py: each method runs on the owner of the post's shard

    @owned(lambda self, viewer_id, post_id, *_, **__: shard_of(post_id))
    async def add(self, viewer_id: int, post_id: int, text: str, reply_to: int | None = None) -> CommentView:
        """A comment on a post the viewer sees; `reply_to` another comment of that post."""
        post = await self.posts.visible_post(viewer_id, post_id)
        if not text.strip():
            raise InvalidInput("text: a comment cannot be empty")
        check_length("text", text, self.posts.config.max_comment_chars)
        mentioned_ids = await self.posts.resolve_mentions(text, self.posts.config.max_mentions)
        spam = await any_spam(self.spam_checks, viewer_id, text)
        comment_id = self.posts.ids.next_id(shard_of(post_id))

        def insert(conn: sqlite3.Connection) -> CommentRecord:
            # Checked inside the write: the post or the comment answered may have gone meanwhile.
            if conn.execute("SELECT 1 FROM posts WHERE id = ?", (post_id,)).fetchone() is None:
                raise NotFound(f"no post {post_id}")
            parent_id = None
            if reply_to is not None:
                answered = conn.execute(
                    f"SELECT parent_id FROM comments WHERE id = ? AND post_id = ? AND {SEEN_BY}",
                    (reply_to, post_id, viewer_id),
                ).fetchone()
                if answered is None:
                    raise InvalidInput(f"reply_to: {reply_to} is not a comment on this post")
                parent_id = answered[0] or reply_to  # a reply's thread, or the top-level comment's own
            record = CommentRecord(comment_id, post_id, viewer_id, parent_id, reply_to, text)
            conn.execute(
                f"INSERT INTO comments ({COMMENT_COLUMNS}, spam) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*msgspec.structs.astuple(record), spam),
            )
            if not spam:
                bump(conn, post_id, "comments", 1)
            return record

        record = await self.meta.write(shard_of(post_id), insert)
        if spam:
            return CommentView(record, await self.posts.accounts.get_user(viewer_id))
        self.posts.counters.invalidate(post_id)
        self.emit(
            "comment.created",
            comment_id=comment_id,
            post_id=post_id,
            post_author_id=post.author_id,
            author_id=viewer_id,
            reply_to=reply_to,
            mentioned_ids=mentioned_ids,
        )
        return CommentView(record, await self.posts.accounts.get_user(viewer_id))

    async def _comment(self, comment_id: int, viewer_id: int | None = None, everyone: bool = False) -> CommentRecord | None:
        """The comment if it exists and (unless `everyone`) the viewer may see it: not spam, or theirs."""
        if shard_of(comment_id) >= self.meta.shard_count:
            return None
        seen = "" if everyone else f" AND {SEEN_BY}"
        row = await self.meta.read_one(
            shard_of(comment_id),
            f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?{seen}",
            (comment_id,) if everyone else (comment_id, viewer_id),
        )
        return None if row is None else _record(row)

    @owned(lambda self, comment_id: shard_of(comment_id))
    async def text_of(self, comment_id: int) -> str | None:
        """A comment's text, whoever may see it (moderation trains the spam model on it)."""
        comment = await self._comment(comment_id, everyone=True)
        return None if comment is None else comment.text

    async def _visible_comment(self, viewer_id: int | None, comment_id: int) -> tuple[CommentRecord, PostRecord]:
        """The comment and its post, or NotFound if either is missing or the post hidden."""
        comment = await self._comment(comment_id, viewer_id)
        if comment is not None:
            try:
                return comment, await self.posts.visible_post(viewer_id, comment.post_id)
            except NotFound:
                pass  # a comment on a hidden post is hidden too, with the same answer as a missing one
        raise NotFound(f"no comment {comment_id}")

    @owned(lambda self, viewer_id, comment_id: shard_of(comment_id))
    async def delete(self, viewer_id: int, comment_id: int) -> None:
        """Delete a comment (and its replies, if it is top-level): its author or the post's may."""
        comment, post = await self._visible_comment(viewer_id, comment_id)
        if viewer_id not in (comment.author_id, post.author_id):
            raise Forbidden("only its author or the post's author may delete a comment")
        await self._remove(comment, post.author_id)

    @owned(lambda self, comment_id: shard_of(comment_id))
    async def remove(self, comment_id: int) -> None:
        """Delete any comment, whoever wrote it (moderation): the same as its author's delete."""
        comment = await self._comment(comment_id, everyone=True)
        post = None if comment is None else (await self.posts.load_records([comment.post_id])).get(comment.post_id)
        if comment is None or post is None:
            raise NotFound(f"no comment {comment_id}")
        await self._remove(comment, post.author_id)

    async def _remove(self, comment: CommentRecord, post_author_id: int) -> None:
        def remove(conn: sqlite3.Connection) -> int:
            # The spam flag of each row deleted: spam was never counted, so it is not uncounted.
            flags = conn.execute("DELETE FROM comments WHERE id = ? RETURNING spam", (comment.id,)).fetchall()
            if not flags:
                raise NotFound(f"no comment {comment.id}")  # deleted by someone else meanwhile
            flags += conn.execute(
                "DELETE FROM comments WHERE post_id = ? AND parent_id = ? RETURNING spam", (comment.post_id, comment.id)
            ).fetchall()
            bump(conn, comment.post_id, "comments", -sum(1 for (spam,) in flags if not spam))
            return len(flags)

        removed = await self.meta.write(shard_of(comment.id), remove)
        self.posts.counters.invalidate(comment.post_id)
        self.emit(
            "comment.deleted",
            comment_id=comment.id,
            post_id=comment.post_id,
            post_author_id=post_author_id,
            author_id=comment.author_id,
            removed=removed,
        )

    @owned(lambda self, viewer_id, post_id, *_, **__: shard_of(post_id))
    async def of_post(self, viewer_id: int | None, post_id: int, cursor: str | None, limit: int) -> CommentPage:
        """Top-level comments oldest first, each with its reply count and first replies."""
        await self.posts.visible_post(viewer_id, post_id)
        return await self._page(viewer_id, post_id, None, cursor, limit)

    @owned(lambda self, viewer_id, comment_id, *_, **__: shard_of(comment_id))
    async def replies(self, viewer_id: int | None, comment_id: int, cursor: str | None, limit: int) -> CommentPage:
        """The replies in a top-level comment's thread, oldest first."""
        comment, _ = await self._visible_comment(viewer_id, comment_id)
        return await self._page(viewer_id, comment.post_id, comment.id, cursor, limit)

    async def _page(
        self, viewer_id: int | None, post_id: int, parent_id: int | None, cursor: str | None, limit: int
    ) -> CommentPage:
        rows = await self.meta.read(
            shard_of(post_id),
            f"SELECT {COMMENT_COLUMNS} FROM comments WHERE post_id = ? AND parent_id IS ? AND id > ? AND {SEEN_BY} "
            "ORDER BY id LIMIT ?",
            (post_id, parent_id, decode_cursor(cursor, 0), viewer_id, limit + 1),
        )
        comments = [_record(row) for row in rows[:limit]]
        threads = await self._threads(viewer_id, post_id, [c.id for c in comments]) if parent_id is None else {}
        everyone = comments + [reply for _, replies in threads.values() for reply in replies]
        users = await self.posts.accounts.get_users({c.author_id for c in everyone})

        def view(comment: CommentRecord) -> CommentView:
            count, replies = threads.get(comment.id, (0, []))
            return CommentView(comment, users[comment.author_id], count, [view(reply) for reply in replies])

        next_cursor = str(comments[-1].id) if len(rows) > limit else None
        return CommentPage([view(c) for c in comments if c.author_id in users], next_cursor)

    async def _threads(
        self, viewer_id: int | None, post_id: int, parent_ids: list[int]
    ) -> dict[int, tuple[int, list[CommentRecord]]]:
        """For each top-level comment: how many replies, and the first REPLY_PREVIEW of them."""
        if not parent_ids:
            return {}
        marks = ",".join("?" * len(parent_ids))
        rows = await self.meta.read(
            shard_of(post_id),
            f"SELECT * FROM (SELECT {COMMENT_COLUMNS}, "
            "row_number() OVER (PARTITION BY parent_id ORDER BY id) AS position, "
            "count(*) OVER (PARTITION BY parent_id) AS total "
            f"FROM comments WHERE post_id = ? AND parent_id IN ({marks}) AND {SEEN_BY}) WHERE position <= ? ORDER BY id",
            (post_id, *parent_ids, viewer_id, REPLY_PREVIEW),
        )
        threads: dict[int, tuple[int, list[CommentRecord]]] = {}
        for row in rows:
            threads.setdefault(row["parent_id"], (row["total"], []))[1].append(_record(row))
        return threads

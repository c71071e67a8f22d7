"""Likes and saves: idempotent switches with exact counts.

A like is a row on the post's shard, `likes(post_id, user_id)`; a save is a row on
the saver's shard, `saves(user_id, post_id)`, so "what did I save" is one query.
Turning a switch on is INSERT OR IGNORE and off is DELETE, and the like counter
moves in the same transaction only when a row really changed: liking twice, or
two likes racing, count once, and an event fires only for a real change.

The hydration of a page of posts asks `ViewerFlags` whether the viewer liked and
saved them: cached answers, and for misses one query per shard for likes and one
query for saves. Each answer is kept where its row is: "did V like P" by the owner
of P's shard, "did V save P" by the owner of V's, so in a cluster a like or a save
runs on that one owner (its row, its counter, its cached answer and its event
together) and no cache ever holds another owner's answer.

Cost: one small transaction per switch; a warm page's flags are LMDB reads only (two
per post: one for each flag). In a cluster the likes are asked of each post's owner in
the one call that hydration makes to it (PostsService.load_owned), and the saves are
read where hydration runs, on the viewer's owner: no round trip of their own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from ..cluster.forward import owned, owned_batch
from ..errors import NotFound
from ..ids import group_by_shard, shard_of
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.counters import bump
from ..stores.meta import ShardedMeta

if TYPE_CHECKING:
    from .service import PostPage, PostsService


# Bits of a post's flags for a viewer, as ViewerFlags.of answers them.
LIKE, SAVE = 1, 2
CACHE_TABLES = ("reactions", "saved")


class ViewerFlags:
    """Did this viewer like or save these posts: LMDB first, SQLite for what it lacks.

    A warm page of posts then costs no SQLite call: each (viewer, post) answer is one
    small int in the cache, the like in table "reactions" (bit LIKE; entries written
    before saves moved out may still carry SAVE, which is ignored) on the post's owner,
    the save in table "saved" on the viewer's owner; a like or save updates its answer
    after its commit, on the same owner.
    """

    def __init__(self, meta: ShardedMeta, cache: CacheBackend) -> None:
        self.meta = meta
        self.likes: CacheTable[int] = CacheTable(cache, "reactions", int)
        self.saves: CacheTable[int] = CacheTable(cache, "saved", int)
        self.cluster = None  # cluster/forward.py: each answer is asked of its owner

    @owned_batch
    async def liked(self, post_ids: Iterable[int], viewer_id: int) -> dict[int, bool]:
        """post id -> True for those of the posts the viewer liked (on the posts' owners)."""

        async def load(keys: list) -> dict:
            liked = await self._load_likes(viewer_id, [post_id for _, post_id in keys])
            return {key: LIKE * (key[1] in liked) for key in keys}

        found = await self.likes.get_or_load([(viewer_id, post_id) for post_id in post_ids], load)
        return {post_id: True for (_, post_id), bits in found.items() if bits & LIKE}

    @owned(lambda self, viewer_id, post_ids: shard_of(viewer_id))
    async def saved(self, viewer_id: int, post_ids: list[int]) -> list[int]:
        """Those of the posts the viewer saved (on the viewer's owner)."""

        async def load(keys: list) -> dict:
            saved = await self._load_saves(viewer_id, [post_id for _, post_id in keys])
            return {key: SAVE * (key[1] in saved) for key in keys}

        found = await self.saves.get_or_load([(viewer_id, post_id) for post_id in post_ids], load)
        return [post_id for (_, post_id), bits in found.items() if bits]

    def remember_like(self, viewer_id: int, post_id: int, liked: bool) -> None:
        """After a like or unlike commits, on the post's owner."""
        self.likes.put((viewer_id, post_id), LIKE if liked else 0)

    def remember_save(self, viewer_id: int, post_id: int, saved: bool) -> None:
        """After a save or unsave commits, on the saver's owner."""
        self.saves.put((viewer_id, post_id), SAVE if saved else 0)

    async def _load_likes(self, viewer_id: int, post_ids: list[int]) -> set[int]:
        # The viewer's id is formatted in as an int (`:d` refuses anything else): read_by_shard
        # binds only the ids of each shard.
        rows = await self.meta.read_by_shard(
            f"SELECT post_id FROM likes WHERE user_id = {viewer_id:d} AND post_id IN ({{ids}})", group_by_shard(post_ids)
        )
        return {row["post_id"] for row in rows}

    async def _load_saves(self, viewer_id: int, post_ids: list[int]) -> set[int]:
        marks = ",".join("?" * len(post_ids))
        rows = await self.meta.read(
            shard_of(viewer_id), f"SELECT post_id FROM saves WHERE user_id = ? AND post_id IN ({marks})", (viewer_id, *post_ids)
        )
        return {row["post_id"] for row in rows}


class Switch(NamedTuple):
    """A table whose rows are on/off switches, keyed by its first two columns."""

    table: str
    key: tuple[str, str]


LIKES = Switch("likes", ("post_id", "user_id"))
SAVES = Switch("saves", ("user_id", "post_id"))


class Reactions:
    def __init__(self, posts: PostsService, emit: Callable[..., None]) -> None:
        self.posts, self.meta, self.ids, self.emit = posts, posts.meta, posts.ids, emit
        self.cluster = None  # cluster/forward.py: a switch runs on the owner of its row

    async def _switch(self, on: bool, switch: Switch, shard: int, key: tuple[int, int], counted: int | None = None) -> bool:
        """Put or remove the row `key` on a shard; True if it changed. `counted`: the post
        whose "likes" counter follows the row, and which must still exist for the row to
        be added (it may have been deleted since we checked that the viewer sees it)."""
        (first, second), row_id = switch.key, self.ids.next_id(shard)

        def job(conn: sqlite3.Connection) -> bool:
            if on:
                if counted is not None and conn.execute("SELECT 1 FROM posts WHERE id = ?", (counted,)).fetchone() is None:
                    raise NotFound(f"no post {counted}")
                sql = f"INSERT OR IGNORE INTO {switch.table} ({first}, {second}, id) VALUES (?, ?, ?)"
                changed = conn.execute(sql, (*key, row_id)).rowcount
            else:
                changed = conn.execute(f"DELETE FROM {switch.table} WHERE {first} = ? AND {second} = ?", key).rowcount
            if changed and counted is not None:
                bump(conn, counted, "likes", 1 if on else -1)
            return bool(changed)

        return await self.meta.write(shard, job)

    @owned(lambda self, viewer_id, post_id, liked: shard_of(post_id))
    async def set_like(self, viewer_id: int, post_id: int, liked: bool) -> int:
        """Like or unlike (idempotent); returns the post's like count."""
        post = await self.posts.visible_post(viewer_id, post_id)
        changed = await self._switch(liked, LIKES, shard_of(post_id), (post_id, viewer_id), counted=post_id)
        self.posts.flags.remember_like(viewer_id, post_id, liked)
        if changed:
            self.posts.counters.invalidate(post_id)
            self.emit("post.liked" if liked else "post.unliked", post_id=post_id, author_id=post.author_id, user_id=viewer_id)
        return (await self.posts.counters.get(post_id)).get("likes", 0)

    @owned(lambda self, viewer_id, post_id, saved: shard_of(viewer_id))
    async def set_saved(self, viewer_id: int, post_id: int, saved: bool) -> None:
        """Save or unsave (idempotent)."""
        post = await self.posts.visible_post(viewer_id, post_id)
        changed = await self._switch(saved, SAVES, shard_of(viewer_id), (viewer_id, post_id))
        self.posts.flags.remember_save(viewer_id, post_id, saved)
        if changed:
            self.emit("post.saved" if saved else "post.unsaved", post_id=post_id, author_id=post.author_id, user_id=viewer_id)

    async def saved(self, viewer_id: int, cursor: str | None, limit: int) -> PostPage:
        """The viewer's saved posts, newest saved first, without posts since deleted or hidden."""

        async def newest(before: int, n: int) -> list[tuple[int, int]]:
            return await self.saved_ids(viewer_id, before, n)

        return await self.posts.visible_page(viewer_id, newest, cursor, limit)

    @owned(lambda self, viewer_id, *_: shard_of(viewer_id))
    async def saved_ids(self, viewer_id: int, before: int, n: int) -> list[tuple[int, int]]:
        """(save id, post id) of the viewer's n newest saves before `before`, on their owner."""
        rows = await self.meta.read(
            shard_of(viewer_id),
            "SELECT id, post_id FROM saves WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (viewer_id, before, n),
        )
        return [(row["id"], row["post_id"]) for row in rows]

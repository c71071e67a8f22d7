"""Stories: post one, the tray of whom you follow, seen marks, viewers, and expiry.

The idea: a story is a row on its author's shard that owns one upload until it
expires (see migrations.py). Every read filters on `expires_ms > now`, so nothing
is served past its end even if the janitor is late; the janitor (`run_once`) then
deletes expired stories and their media, and decrefs the blobs after the commit,
so blob gc can collect them. It runs in the background every JANITOR_SECONDS when
`[media] background_jobs` is true ([stories] has no switch of its own; the tests
turn it off and call `run_once()`). `clock_ms` is an attribute so tests move time.

Visibility is the posts rule: never across a block, and a private account's
stories only to its approved followers (and itself).

Cost: the tray is computed from SQLite on every request, not cached: one edge
query on the caller's shard, then one query per shard holding followees (the
followees' ids in an IN list), and a cached relationship lookup per author with
stories. Fine for hundreds of followees; an LMDB "current stories" entry per
author would make it cache reads only (left for later).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..config import StoriesConfig
from ..errors import NotFound
from ..graph.service import GraphService
from ..ids import IdGenerator, group_by_shard, shard_of
from ..stores.blobs import BlobStore
from ..stores.meta import ShardedMeta
from . import records
from .records import StoryRecord

log = logging.getLogger(__name__)

JANITOR_SECONDS = 300


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class StoryView(msgspec.Struct, frozen=True):
    record: StoryRecord
    seen: bool


class TrayEntry(msgspec.Struct, frozen=True):
    user: UserRecord
    stories: list[StoryView]  # oldest first, the order they are watched in

    @property
    def has_unseen(self) -> bool:
        return any(not story.seen for story in self.stories)


class Viewer(msgspec.Struct, frozen=True):
    user: UserRecord
    seen_ms: int


class StoriesService:
    def __init__(
        self,
        meta: ShardedMeta,
        ids: IdGenerator,
        accounts: AccountsService,
        graph: GraphService,
        blobs: BlobStore,
        config: StoriesConfig,
        emit: Callable[..., None],
    ) -> None:
        self.meta, self.ids, self.accounts, self.graph, self.blobs, self.emit = meta, ids, accounts, graph, blobs, emit
        self.config = config
        self.clock_ms: Callable[[], int] = now_ms

    # -- writing ---------------------------------------------------------------------

    async def post(self, author_id: int, media_id: int) -> StoryRecord:
        shard = shard_of(author_id)
        story_id = self.ids.next_id(shard)
        created = self.clock_ms()
        expires = created + self.config.lifetime_hours * 3_600_000
        story = await self.meta.write(
            shard, lambda conn: records.insert_story(conn, story_id, author_id, media_id, created, expires)
        )
        self.emit("story.posted", story_id=story_id, author_id=author_id)
        return story

    async def mark_seen(self, viewer_id: int, story_id: int) -> None:
        story = await self.visible_story(viewer_id, story_id)
        if viewer_id == story.author_id:
            return  # an author's own views are not counted
        seen_ms = self.clock_ms()
        new = await self.meta.write(shard_of(story_id), lambda conn: records.mark_seen(conn, story_id, viewer_id, seen_ms))
        if new:
            self.emit("story.seen", story_id=story_id, author_id=story.author_id, viewer_id=viewer_id)

    # -- reading ---------------------------------------------------------------------

    async def load(self, story_id: int) -> StoryRecord | None:
        """A live story, or None if missing or expired."""
        if shard_of(story_id) >= self.meta.shard_count:
            return None
        row = await self.meta.read_one(
            shard_of(story_id), f"{records.SELECT} WHERE s.id = ? AND s.expires_ms > ?", (story_id, self.clock_ms())
        )
        return None if row is None else records.story_from_row(row)

    async def may_see(self, viewer_id: int, author: UserRecord) -> bool:
        if viewer_id != author.id and (await self.graph.relationship(viewer_id, author.id)).hidden:
            return False
        return await self.graph.can_see_content(viewer_id, author)

    async def visible_story(self, viewer_id: int, story_id: int) -> StoryRecord:
        """The story, or NotFound if missing, expired or hidden from the viewer (one answer)."""
        story = await self.load(story_id)
        author = await self.accounts.get_user(story.author_id) if story is not None else None
        if author is None or not await self.may_see(viewer_id, author):
            raise NotFound(f"no story {story_id}")
        return story

    async def viewers(self, viewer_id: int, story_id: int) -> list[Viewer]:
        """Who has seen the story, newest first: for its author only (others: 404)."""
        story = await self.load(story_id)
        if story is None or story.author_id != viewer_id:
            raise NotFound(f"no story {story_id}")
        rows = await self.meta.read(
            shard_of(story_id),
            "SELECT viewer_id, seen_ms FROM story_views WHERE story_id = ? ORDER BY seen_ms DESC, viewer_id",
            (story_id,),
        )
        users = await self.accounts.get_users([row[0] for row in rows])
        shown = [Viewer(users[row[0]], row[1]) for row in rows if row[0] in users]
        return [v for v in shown if not (await self.graph.relationship(viewer_id, v.user.id)).hidden]

    async def tray(self, viewer_id: int) -> list[TrayEntry]:
        """Whom the viewer follows (and the viewer) with live stories: unseen first, then newest."""
        following = await self.meta.read(
            shard_of(viewer_id), "SELECT dst FROM edges WHERE src = ? AND kind = 'following'", (viewer_id,)
        )
        authors = {viewer_id, *(row[0] for row in following)}
        by_author = await self._live_stories(viewer_id, authors)
        users = await self.accounts.get_users(by_author)
        entries = [
            TrayEntry(users[author_id], stories)
            for author_id, stories in by_author.items()
            if author_id in users and await self.may_see(viewer_id, users[author_id])
        ]
        entries.sort(key=lambda entry: (not entry.has_unseen, -entry.stories[-1].record.created_ms))
        return entries[: self.config.tray_size]

    async def _live_stories(self, viewer_id: int, author_ids: set[int]) -> dict[int, list[StoryView]]:
        """Unexpired stories of these authors, oldest first, with the viewer's seen marks."""
        sql = (
            f"SELECT s.id, s.author_id, s.created_ms, s.expires_ms, {records.MEDIA_COLUMNS}, "
            f"EXISTS (SELECT 1 FROM story_views v WHERE v.story_id = s.id AND v.viewer_id = {int(viewer_id)}) "
            f"FROM stories s JOIN media m ON m.id = s.media_id "
            f"WHERE s.expires_ms > {int(self.clock_ms())} AND s.author_id IN ({{ids}}) ORDER BY s.id"
        )
        rows = await self.meta.read_by_shard(sql, group_by_shard(author_ids))
        by_author: dict[int, list[StoryView]] = {}
        for row in rows:
            story = records.story_from_row(tuple(row)[:-1])
            seen = bool(row[-1]) or story.author_id == viewer_id
            by_author.setdefault(story.author_id, []).append(StoryView(story, seen))
        return by_author

    # -- the janitor -----------------------------------------------------------------

    async def run_once(self) -> int:
        """Delete expired stories and their media on every shard; returns how many went."""
        deleted = 0
        cutoff = self.clock_ms()
        for shard in range(self.meta.shard_count):
            count, keys = await self.meta.write(shard, lambda conn: records.delete_expired(conn, cutoff))
            deleted += count
            for key in keys:  # only after the commit: never a live row pointing at freed bytes
                await self.blobs.decref(key)
        return deleted

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a failed round must not stop the next one
                log.exception("stories janitor round failed")
            await anyio.sleep(JANITOR_SECONDS)

"""Stories: post one, the tray of whom you follow, seen marks, viewers, and expiry.

The idea: a story is a row on its author's shard that owns one upload until it
expires (see migrations.py). Every read filters on `expires_ms > now`, so nothing
is served past its end even if the janitor is late; the janitor (`run_once`) then
deletes expired stories and their media, and decrefs the blobs after the commit,
so blob gc can collect them. It runs in the background every JANITOR_SECONDS when
`[media] background_jobs` is true ([stories] has no switch of its own; the tests
turn it off and call `run_once()`). `clock_ms` is an attribute so tests move time.

The tray is served from the cache (cache.py): whom the viewer follows, each
author's live stories and the viewer's seen marks are LMDB entries, filled from
SQLite on a miss and written through on post, seen, janitor, `remove` (a
takedown: the story and its media go at once) and follow changes.
It is ordered unseen first, then within each group by the ranker on `state.ranker`
(one candidate per author: their newest live story), or by recency if no ranking
module is on; what is shown is reported to `state.impressions` when it exists.

Visibility is the posts rule: never across a block, nor from a suspended account,
and a private account's stories only to its approved followers (and itself).

In a cluster (docs/cluster.md) every method that reads or writes a story runs on the
owner of the author's shard (`@owned`), where the story, its media, its seen marks and
their cache entries live. The tray is made on the viewer's owner (whom they follow is
there, and their impressions are logged there), which asks each author's owner, one
call per instance (`@owned_batch`), for their live stories and the viewer's seen
marks; the janitor works on this instance's own shards.

Cost: a warm tray makes no SQLite call: three batched LMDB reads (followees,
story lists, seen marks) plus the cached users and relationships, then one ranker
call. A cold tray costs one query on the viewer's shard and two per shard holding
authors. Posting or seeing a story adds one LMDB write after the commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..background import every
from ..cluster.forward import local_shards, owned, owned_batch
from ..config import StoriesConfig
from ..errors import NotFound
from ..feed.ranker import Candidate, RecencyRanker
from ..graph.service import GraphService
from ..ids import IdGenerator, shard_of
from ..stores.blobs import BlobStore
from ..stores.cache_base import CacheBackend
from ..stores.meta import ShardedMeta
from . import records
from .cache import TrayCache
from .records import StoryRecord

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


def candidate(entry: TrayEntry) -> Candidate:
    """What the ranker sees of a tray entry: the author's newest live story."""
    return Candidate(entry.stories[-1].record.id, entry.user.id, 0, 0, kind="story")


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
        cache: CacheBackend,
        service: Callable[[str], Any] = lambda name: None,
    ) -> None:
        self.meta, self.ids, self.accounts, self.graph, self.blobs, self.emit = meta, ids, accounts, graph, blobs, emit
        self.config = config
        self.clock_ms: Callable[[], int] = now_ms
        self.cached = TrayCache(meta, cache)
        # Another module's service by name, looked up at request time (`state.get`):
        # "ranker" and "impressions" are optional, their modules may be off.
        self.service = service
        self.fallback_ranker = RecencyRanker(clock_ms=lambda: self.clock_ms())
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)

    # -- writing ---------------------------------------------------------------------

    @owned(lambda self, author_id, media_id: shard_of(author_id))
    async def post(self, author_id: int, media_id: int) -> StoryRecord:
        shard = shard_of(author_id)
        story_id = self.ids.next_id(shard)
        created = self.clock_ms()
        expires = created + self.config.lifetime_hours * 3_600_000
        story = await self.meta.write(
            shard, lambda conn: records.insert_story(conn, story_id, author_id, media_id, created, expires)
        )
        self.cached.story_posted(story)
        self.emit("story.posted", story_id=story_id, author_id=author_id)
        return story

    @owned(lambda self, viewer_id, story_id: shard_of(story_id))
    async def mark_seen(self, viewer_id: int, story_id: int) -> None:
        story = await self.visible_story(viewer_id, story_id)
        if viewer_id == story.author_id:
            return  # an author's own views are not counted
        seen_ms = self.clock_ms()
        new = await self.meta.write(shard_of(story_id), lambda conn: records.mark_seen(conn, story_id, viewer_id, seen_ms))
        self.cached.marked_seen(viewer_id, story, seen_ms)
        if new:
            self.emit("story.seen", story_id=story_id, author_id=story.author_id, viewer_id=viewer_id)

    @owned(lambda self, story_id: shard_of(story_id))
    async def remove(self, story_id: int) -> bool:
        """Delete a story and its media before its end (moderation's takedown); False if none."""
        if shard_of(story_id) >= self.meta.shard_count:
            return False
        author_id, keys = await self.meta.write(shard_of(story_id), lambda conn: records.delete_story(conn, story_id))
        if author_id is None:
            return False
        self.cached.stories_deleted(author_id, {story_id})
        for key in keys:  # after the commit, as the janitor does
            await self.blobs.decref(key)
        return True

    # -- reading ---------------------------------------------------------------------

    @owned(lambda self, story_id: shard_of(story_id))
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

    @owned(lambda self, viewer_id, story_id: shard_of(story_id))
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

    @owned(lambda self, viewer_id: shard_of(viewer_id))  # where the viewer's impressions are logged
    async def tray(self, viewer_id: int) -> list[TrayEntry]:
        """Whom the viewer follows (and the viewer) with live stories: unseen first, then ranked."""
        now = self.clock_ms()
        following = await self.followees(viewer_id)
        by_author = await self.live_stories([viewer_id, *following], now)
        users = await self.accounts.get_users(by_author)
        shown = [a for a in by_author if a in users and await self.may_see(viewer_id, users[a])]
        seen = await self.seen_marks([a for a in shown if a != viewer_id], viewer_id)
        entries = {
            author: TrayEntry(
                users[author],
                [StoryView(s, author == viewer_id or s.id in seen.get(author, ())) for s in by_author[author]],
            )
            for author in shown
        }
        ordered = self.rank(viewer_id, entries)[: self.config.tray_size]
        self.record_impressions(viewer_id, ordered)
        return ordered

    # The tray's three reads, each where its data lives (and is cached).

    @owned(lambda self, viewer_id: shard_of(viewer_id))
    async def followees(self, viewer_id: int) -> list[int]:
        return await self.cached.following(viewer_id)

    @owned_batch
    async def live_stories(self, author_ids: list[int], now_ms: int) -> dict[int, list[StoryRecord]]:
        return await self.cached.stories_of(author_ids, now_ms)

    @owned_batch
    async def seen_marks(self, author_ids: list[int], viewer_id: int) -> dict[int, list[int]]:
        """author -> ids of their stories the viewer has seen (the marks are on the author's shard)."""
        return {author: sorted(ids) for author, ids in (await self.cached.seen_by(viewer_id, author_ids)).items()}

    def rank(self, viewer_id: int, entries: dict[int, TrayEntry]) -> list[TrayEntry]:
        """Unseen first; within each group the ranker's order (unranked authors last, newest first)."""
        newest_first = sorted(entries.values(), key=lambda entry: -entry.stories[-1].record.id)
        ranker = self.service("ranker") or self.fallback_ranker
        scored = ranker.rank(viewer_id, [candidate(entry) for entry in newest_first])
        position = {s.post_id: i for i, s in enumerate(scored)}
        last = len(position)
        return sorted(
            newest_first, key=lambda entry: (not entry.has_unseen, position.get(entry.stories[-1].record.id, last))
        )

    def record_impressions(self, viewer_id: int, entries: list[TrayEntry]) -> None:
        impressions = self.service("impressions")
        if entries and impressions is not None and hasattr(impressions, "record"):
            impressions.record(viewer_id, "stories", [candidate(entry) for entry in entries])

    # -- the janitor -----------------------------------------------------------------

    async def run_once(self) -> int:
        """Delete expired stories and their media on this instance's shards; returns how many went."""
        deleted = 0
        cutoff = self.clock_ms()
        for shard in local_shards(self):
            gone, keys = await self.meta.write(shard, lambda conn: records.delete_expired(conn, cutoff))
            deleted += len(gone)
            by_author: dict[int, set[int]] = {}
            for story_id, author_id in gone:
                by_author.setdefault(author_id, set()).add(story_id)
            for author_id, story_ids in by_author.items():
                self.cached.stories_deleted(author_id, story_ids)
            for key in keys:  # only after the commit: never a live row pointing at freed bytes
                await self.blobs.decref(key)
        return deleted

    async def run_forever(self) -> None:
        await every(JANITOR_SECONDS, self.run_once, "stories janitor round")

"""The tray's cache: each author's live stories, each viewer's seen marks and followees, in LMDB.

The idea: the tray is read far more often than stories are posted or seen, so
everything it needs is kept in three cache tables, filled lazily from SQLite on a
miss (one batched query per shard) and written through when SQLite changes:

    story_lists       author_id -> the author's stories, oldest first, as loaded
                      (live then); a new story is appended after its commit, the
                      janitor and a takedown (`remove`) take out what they deleted. An author with none is
                      cached as an empty list, so a warm tray asks SQLite nothing.
                      Expiry is still checked at every read (`expires_ms > now`), so
                      nothing is served past its end even before the janitor runs.
    story_seen        (viewer_id, author_id) -> ids of that author's stories the
                      viewer has seen; `mark_seen` appends after its commit. New
                      stories are simply absent from it (unseen), expired ids are
                      harmless (only live stories are looked up) and pruned on write.
    story_followees   viewer_id -> whom the viewer follows; dropped for both users
                      by `graph.on_change` after a follow, unfollow, approval or block,
                      and reloaded after FOLLOWEES_TTL_MS anyway (a safety net, as the
                      feed's: a change cut short between its commit and the hook).

Every fill takes the table's generation first, so a fill that raced a write is
dropped (see stores/cache.py); where a write finds nothing cached it still
deletes the key, which bumps the generation for the same reason.

Cost: warm, one LMDB read per table for the whole tray (get_many); cold, one query
on the viewer's shard for followees, and one per shard holding authors for their
stories and for the seen marks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import msgspec

from ..ids import group_by_shard, shard_of
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.meta import ShardedMeta
from . import records
from .records import StoryRecord

CACHE_TABLES = ("story_lists", "story_seen", "story_followees")
FOLLOWEES_TTL_MS = 10 * 60 * 1000


class StoryList(msgspec.Struct, array_like=True):
    stories: list[StoryRecord]  # oldest first


class SeenIds(msgspec.Struct, array_like=True):
    ids: list[int]


class Followees(msgspec.Struct, array_like=True):
    loaded_ms: int  # wall clock
    ids: list[int]


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class TrayCache:
    def __init__(self, meta: ShardedMeta, cache: CacheBackend) -> None:
        self.meta = meta
        self.lists: CacheTable[StoryList] = CacheTable(cache, "story_lists", StoryList)
        self.seen: CacheTable[SeenIds] = CacheTable(cache, "story_seen", SeenIds)
        self.followees: CacheTable[Followees] = CacheTable(cache, "story_followees", Followees)

    # -- reading, filling on a miss ----------------------------------------------------

    async def following(self, viewer_id: int) -> list[int]:
        cached = self.followees.get(viewer_id)
        if cached is not None and wall_ms() - cached.loaded_ms < FOLLOWEES_TTL_MS:
            return cached.ids
        generation = self.followees.generation()
        rows = await self.meta.read(
            shard_of(viewer_id), "SELECT dst FROM edges WHERE src = ? AND kind = 'following'", (viewer_id,)
        )
        found = Followees(wall_ms(), [row["dst"] for row in rows])
        self.followees.fill(viewer_id, found, generation)
        return found.ids

    async def stories_of(self, author_ids: Iterable[int], now_ms: int) -> dict[int, list[StoryRecord]]:
        """author -> their live stories, oldest first (authors with none are left out)."""

        async def load(missing: list[int]) -> dict[int, StoryList]:
            rows = await self.meta.read_by_shard(
                f"{records.SELECT} WHERE s.expires_ms > {int(now_ms)} AND s.author_id IN ({{ids}}) ORDER BY s.id",
                group_by_shard(missing),
            )
            found: dict[int, StoryList] = {author: StoryList([]) for author in missing}
            for row in rows:
                story = records.story_from_row(row)
                found[story.author_id].stories.append(story)
            return found

        lists = await self.lists.get_or_load(author_ids, load)
        live = {author: [s for s in found.stories if s.expires_ms > now_ms] for author, found in lists.items()}
        return {author: stories for author, stories in live.items() if stories}

    async def seen_by(self, viewer_id: int, author_ids: Iterable[int]) -> dict[int, set[int]]:
        """author -> ids of their stories the viewer has seen."""

        async def load(missing: list[tuple[int, int]]) -> dict[tuple[int, int], SeenIds]:
            rows = await self.meta.read_by_shard(
                "SELECT s.author_id, v.story_id FROM stories s JOIN story_views v "
                f"ON v.story_id = s.id AND v.viewer_id = {int(viewer_id)} WHERE s.author_id IN ({{ids}})",
                group_by_shard(author for _, author in missing),
            )
            found = {key: SeenIds([]) for key in missing}
            for row in rows:
                found[(viewer_id, row["author_id"])].ids.append(row["story_id"])
            return found

        marks = await self.seen.get_or_load([(viewer_id, author) for author in author_ids], load)
        return {author: set(found.ids) for (_, author), found in marks.items()}

    # -- writing through, after SQLite committed ------------------------------------------

    def story_posted(self, story: StoryRecord) -> None:
        cached = self.lists.get(story.author_id)
        if cached is None:
            self.lists.delete(story.author_id)  # nothing to update; stop a racing fill
        else:
            live = [s for s in cached.stories if s.expires_ms > story.created_ms]  # prune, janitor or not
            self.lists.put(story.author_id, StoryList([*live, story]))

    def stories_deleted(self, author_id: int, story_ids: set[int]) -> None:
        cached = self.lists.get(author_id)
        if cached is None:
            self.lists.delete(author_id)
        else:
            self.lists.put(author_id, StoryList([s for s in cached.stories if s.id not in story_ids]))

    def marked_seen(self, viewer_id: int, story: StoryRecord, now_ms: int) -> None:
        key = (viewer_id, story.author_id)
        cached = self.seen.get(key)
        if cached is None:
            self.seen.delete(key)
            return
        stories = self.lists.get(story.author_id)
        live = None if stories is None else {s.id for s in stories.stories if s.expires_ms > now_ms}
        kept = [i for i in cached.ids if live is None or i in live]
        self.seen.put(key, SeenIds(sorted({*kept, story.id})))

    def graph_changed(self, a: int, b: int) -> None:
        self.followees.delete(a)
        self.followees.delete(b)

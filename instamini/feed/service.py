"""Reading feeds under three strategies, and keeping timelines right as the graph changes.

The idea: a home feed page is a merge, newest first, of a few sorted lists:
- push: the viewer's own timeline (filled by the fan-out worker at write time);
- pull: every followee's recent posts, merged at read time (no write cost, more read work);
- hybrid: the timeline for ordinary authors plus a pull of the few celebrities the
  viewer follows (authors above `celebrity_threshold`, whose fan-out would be huge).
Whatever the strategy, the viewer's own posts are pulled, entries by someone the
viewer no longer follows are skipped at once (the cleanup runs after), and the page
is hydrated from the cache by the posts service. So all three strategies give the
same feed; they differ in where the work is done. A timeline never built, or not
read for `inactive_days`, is rebuilt on read from the authors' recent posts.

`?order=ranked` takes the newest candidates, asks the ranker to score them, and
pages through that order with an offset cursor; the order is kept from the first
page (snapshots.py), so scrolling neither skips nor repeats.

In a cluster (docs/cluster.md) everything here runs where its data is. A page is
read on the viewer's owner (`page` is forwarded there), which holds their timeline,
followees and snapshots; an author's recent-posts list is read on the author's owner
(`author_pages`, one call per instance for a page's pulled or rebuilt authors); the
page's posts are hydrated by the posts service, which asks each post's owner. A
follow change is applied by each user's own owner, and a deleted post is taken
out of its followers' timelines on each of their owners.

Cost, warm: one LMDB scan per list merged (one under push, 1 + celebrities under
hybrid, 1 + followees under pull) and the page's hydration, all LMDB reads; in a
cluster, one round trip to the viewer's owner if the request landed elsewhere, and
one per other instance holding pulled authors, per fetch.
"""

from __future__ import annotations

import heapq
import logging
import sqlite3
from collections.abc import Iterable
from itertools import islice

from ..cluster import RpcError
from ..cluster.forward import owned, owned_batch
from ..config import Config
from ..errors import InvalidInput
from ..graph.service import GraphService
from ..ids import shard_of
from ..posts.records import PostRecord
from ..posts.service import PostPage, PostsService, PostView
from ..stores.cache_base import CacheBackend
from ..stores.counters import Counters
from ..stores.meta import ShardedMeta
from .fanout import FanoutWorker
from .ranker import Candidate, ImpressionSink, Ranker, RecencyRanker
from .celebrities import Celebrities
from .snapshots import TABLE as SNAPSHOTS, RankedSnapshots
from .sources import Followees, Sources, is_active
from .timelines import NEWEST, Entry, PostLists, now_ms

log = logging.getLogger(__name__)
HOME, REELS, AUTHOR_POSTS, AUTHOR_REELS = "timelines", "reel_timelines", "author_posts", "author_reels"
CACHE_TABLES = (
    *(t for name in (HOME, REELS, AUTHOR_POSTS, AUTHOR_REELS) for t in PostLists.tables(name)), "followees", "feed_meta", SNAPSHOTS,
)
# A ranked page is drawn from this many of the newest candidates (each is hydrated
# to be scored, so this bounds a ranked page's work).
RANK_WINDOW = 60
# A read refreshes "last seen" at most this often: a put on every read would be waste.
SEEN_PRECISION_MS = 3_600_000
# When a timeline is rebuilt, each pushed author contributes at most this many entries
# (at least a few pages' worth): bounded work for someone following thousands.
REBUILD_PER_AUTHOR_MIN = 50


class FeedService:
    def __init__(
        self, config: Config, meta: ShardedMeta, cache: CacheBackend, counters: Counters, posts: PostsService,
        graph: GraphService, ranker: Ranker | None = None, impressions: ImpressionSink | None = None,
    ) -> None:
        settings = config.feed
        self.strategy, self.settings = settings.strategy, settings
        self.meta, self.cache, self.posts, self.graph = meta, cache, posts, graph
        self.ranker: Ranker = ranker or RecencyRanker()
        self.impressions = impressions
        self.snapshots = RankedSnapshots(cache)
        bound = settings.timeline_size
        self.home, self.reel_home = PostLists(cache, HOME, bound), PostLists(cache, REELS, bound)
        self.sources = Sources(meta, cache, PostLists(cache, AUTHOR_POSTS, bound), PostLists(cache, AUTHOR_REELS, bound))
        self.celebrities = Celebrities(meta, counters, settings.celebrity_threshold, self._forget_followers_timelines)
        self.fanout = FanoutWorker(meta, self.home, self.reel_home, batch=settings.fanout_batch, inactive_days=settings.inactive_days)
        self.inactive_ms = settings.inactive_days * 86_400_000
        self.rebuilds = 0
        self.cluster = None  # the ClusterNode in a cluster (cluster/forward.py): owned methods run on their owner

    def join_peers(self) -> None:
        """After `join_cluster`: the fan-out worker and the celebrity set meet the other instances."""
        if self.cluster is not None:
            self.fanout.join(self.cluster)
            self.celebrities.join(self.cluster)

    def _is_local(self, user_id: int) -> bool:
        return self.cluster is None or self.cluster.topology.is_local(shard_of(user_id))

    # -- start-up ------------------------------------------------------------------------

    def check_strategy(self) -> bool:
        """Timelines built under another strategy miss what it did not push: rebuild them all."""
        previous = self.cache.get("feed_meta", b"strategy")
        if previous == self.strategy.encode():
            return False
        for lists in (self.home, self.reel_home):
            for key, _ in self.cache.scan(lists.states.name, b"", 1 << 40):
                self.cache.delete(lists.states.name, key)
        self.cache.put("feed_meta", b"strategy", self.strategy.encode())
        return previous is not None

    # -- hooks into posts and graph ------------------------------------------------------

    def write_outbox_row(self, conn: sqlite3.Connection, record: PostRecord) -> None:
        """Runs inside the post's transaction: queue its fan-out unless nothing is pushed."""
        if self.strategy == "pull":
            return
        if self.strategy == "hybrid" and record.author_id in self.celebrities.agreed:
            return  # pulled by readers (everywhere) instead: no write cost however many follow
        conn.execute(
            "INSERT INTO feed_outbox (post_id, author_id, kind, created_ms) VALUES (?, ?, ?, ?)",
            (record.id, record.author_id, record.kind, now_ms()),
        )

    def post_created(self, record: PostRecord) -> None:
        self.sources.record_post(Entry(record.id, record.author_id, record.kind))
        self.fanout.wake()

    def post_deleted(self, author_id: int, post_id: int) -> None:
        self.sources.drop_post(author_id, post_id)

    def graph_changed(self, a: int, b: int) -> None:
        """Runs right after a follow, unfollow or block commits, before the response. In a
        cluster the graph runs it on each user's owner once that user's half has committed
        (graph/service.py), and each instance acts for the users it owns: their followees,
        timelines and follower count are there."""
        for user_id in (a, b):
            if not self._is_local(user_id):
                continue
            if self.strategy == "hybrid":
                self.celebrities.recheck_soon(user_id)
            if not self.sources.mark_stale(user_id):
                # No old list to compare with at the next read: rebuild that user's timelines.
                self.home.forget(user_id)
                self.reel_home.forget(user_id)

    # -- reading -------------------------------------------------------------------------

    @owned(lambda self, viewer_id, *_, **__: shard_of(viewer_id))
    async def page(self, viewer_id: int, *, reels: bool, order: str, cursor: str | None, limit: int) -> PostPage:
        """A page of the viewer's home (or reels) feed, read on the viewer's owner."""
        fetch, allowed, entries = await self._fetcher(viewer_id, reels)
        surface = "reels" if reels else "feed"
        if order == "chronological":
            page = await self.posts.visible_page(viewer_id, fetch, cursor, limit, known_visible=allowed)
            self._log(viewer_id, surface, page.posts)
            return page
        offset = _offset(cursor)
        order = self.snapshots.load(viewer_id, surface) if offset else None
        if order is None:
            ranked = self.ranker.rank(viewer_id, await self._candidates(await fetch(NEWEST, RANK_WINDOW), entries))
            order = [(scored.post_id, "") for scored in ranked]
            self.snapshots.save(viewer_id, surface, order)
        # `allowed` is whom the viewer follows now: a post in the snapshot by someone
        # unfollowed (or blocked) since is checked by hydrate like any other.
        chosen = [post_id for post_id, _ in order[offset : offset + limit]]
        views = await self.posts.hydrate(viewer_id, chosen, known_visible=allowed)
        self._log(viewer_id, surface, views)
        more = offset + limit < len(order)
        return PostPage(views, f"r{offset + limit}" if more else None)

    async def _candidates(self, fetched: list[tuple[int, int]], entries: dict[int, Entry]) -> list[Candidate]:
        ids = [post_id for _, post_id in fetched]
        counts = await self.posts.counters.get_many(ids)
        return [
            Candidate(i, entries[i].author_id, counts[i].get("likes", 0), counts[i].get("comments", 0), entries[i].kind)
            for i in ids
        ]

    @owned(lambda self, viewer_id, *_: shard_of(viewer_id))
    async def candidates(self, viewer_id: int, reels: bool = False) -> list[Candidate]:
        """What a ranked page is drawn from, before ranking (benchmarks time the ranker on it)."""
        fetch, _, entries = await self._fetcher(viewer_id, reels)
        return await self._candidates(await fetch(NEWEST, RANK_WINDOW), entries)

    def _log(self, viewer_id: int, surface: str, shown: list[PostView]) -> None:
        """Log the page as impressions; not the posts already liked: they cannot be liked
        again, so logging them would teach the model that what you like, you skip."""
        if self.impressions is not None:
            self.impressions.record(viewer_id, surface, [_candidate(view) for view in shown if not view.liked])

    @owned(lambda self, viewer_id, *_: shard_of(viewer_id))
    async def explain(self, viewer_id: int, post_id: int) -> dict:
        """Why the ranker puts a post where it is in the viewer's ranked home feed: each
        feature's value and its contribution to the score. The window is the one `page`
        ranks; a visible post outside it is scored beside it, with no position. A post
        the viewer may not see: NotFound."""
        record = await self.posts.visible_post(viewer_id, post_id)
        fetch, _, entries = await self._fetcher(viewer_id, False)
        fetched = await fetch(NEWEST, RANK_WINDOW)
        in_window = post_id in entries
        if not in_window:
            entries = entries | {post_id: Entry(post_id, record.author_id, record.kind)}
            fetched = [*fetched, (post_id, post_id)]
        ranked = self.ranker.rank(viewer_id, await self._candidates(fetched, entries))
        position = next(n for n, scored in enumerate(ranked) if scored.post_id == post_id)
        mine = ranked[position]
        counts = (await self.posts.counters.get_many([post_id]))[post_id]
        return {
            "post_id": str(post_id),
            "ranker": self.ranker.name,
            "score": mine.score,
            "position": position if in_window else None,
            "features": {**mine.reasons, "likes": counts.get("likes", 0), "comments": counts.get("comments", 0)},
            "contributions": mine.contributions,
        }

    async def _fetcher(self, viewer_id: int, reels: bool):
        followees, previous = await self.sources.followees(viewer_id)
        if previous is not None:
            await self._follows_changed(viewer_id, previous, followees)
        timeline = self.reel_home if reels else self.home
        pushed, pulled = self._split(followees)
        pulled = [viewer_id, *pulled]
        if self.strategy != "pull":
            await self._ensure_timeline(viewer_id, timeline, pushed, reels)
        allowed = {viewer_id, *followees.ids}
        entries: dict[int, Entry] = {}  # post id -> its entry, of every entry fetch returned

        async def fetch(before: int, n: int) -> list[tuple[int, int]]:
            # Pulled authors whose instance is down are left out of this page (asked again next time).
            lists = list((await self.author_pages(pulled, reels, before, n, partial=True)).values())
            if self.strategy != "pull":
                lists.append(timeline.page(viewer_id, before, n))
            found: dict[int, Entry] = {}
            for entry in heapq.merge(*lists, reverse=True):  # entries compare by post id first
                if entry.author_id in allowed and entry.post_id not in found:
                    found[entry.post_id] = entry
                    if len(found) == n:
                        break
            entries.update(found)
            return [(post_id, post_id) for post_id in found]

        # Whom the viewer follows (and themself) may be shown without another check: a
        # follow is approved for private accounts, and a block removes it.
        return fetch, allowed, entries

    def _split(self, followees: Followees) -> tuple[list[int], list[int]]:
        """(pushed, pulled) authors among the followees, under this strategy."""
        if self.strategy == "push":
            return followees.ids, []
        if self.strategy == "pull":
            return [], followees.ids
        celebrities = self.celebrities.ids
        return [i for i in followees.ids if i not in celebrities], [i for i in followees.ids if i in celebrities]

    async def _ensure_timeline(self, viewer_id: int, timeline: PostLists, pushed: list[int], reels: bool) -> None:
        state, stamp = timeline.state(viewer_id), now_ms()
        if is_active(state, self.inactive_ms, stamp):
            if stamp - state.seen_ms > SEEN_PRECISION_MS:
                timeline.mark_seen(viewer_id, state, stamp)
            return
        per_author = max(REBUILD_PER_AUTHOR_MIN, 4 * timeline.bound // max(1, len(pushed)))
        # A delivery that lands while the authors' lists are read is kept for replace().
        with timeline.rebuilding(viewer_id):
            pages = await self.author_pages(pushed, reels, NEWEST, per_author)
            newest = heapq.merge(*pages.values(), reverse=True)
            timeline.replace(viewer_id, list(islice(newest, timeline.bound)))
        self.rebuilds += 1

    @owned_batch
    async def author_pages(self, author_ids: Iterable[int], reels: bool, before: int, limit: int) -> dict[int, list[Entry]]:
        """Each author's newest entries below `before`, from their cached list (loaded on a
        miss). In a cluster each owner reads its own authors' lists: one call per instance."""
        author_ids = list(author_ids)
        await self.sources.ensure_authors(author_ids)
        lists = self.sources.lists_for(reels)
        return {author: lists.page(author, before, limit) for author in author_ids}

    async def grid_fetch(self, owner_id: int):
        """The profile grid from the author's cached list (posts falls back to SQLite without it)."""

        async def fetch(before: int, n: int) -> list[tuple[int, int]]:
            entries = (await self.author_pages([owner_id], False, before, n)).get(owner_id, [])
            return [(e.post_id, e.post_id) for e in entries]

        return fetch

    # -- keeping timelines right (after the event) -----------------------------------------

    async def _follows_changed(self, viewer_id: int, before: Followees, now: Followees) -> None:
        """Apply a change of follows to the viewer's timelines: whom they stopped following
        leaves (the reads already skip them), whom they started following is backfilled
        with their latest posts, if that author is pushed under this strategy."""
        if self.strategy == "pull":
            return
        pushed_now, pushed_before = set(self._split(now)[0]), set(self._split(before)[0])
        added = sorted(pushed_now - pushed_before)
        removed = set(before.ids) - set(now.ids)
        for timeline, reels in ((self.home, False), (self.reel_home, True)):
            if timeline.state(viewer_id) is None:
                continue  # rebuilt in full when read
            for author in removed:
                timeline.remove_author(viewer_id, author)
            backfill = await self.author_pages(added, reels, NEWEST, self.settings.backfill_posts) if added else {}
            state = timeline.state(viewer_id)  # read again: a delivery may have updated it meanwhile
            for entries in backfill.values():
                timeline.add(viewer_id, entries, state)

    async def _forget_followers_timelines(self, author_id: int) -> None:
        """An author left the celebrities: their pulled posts are in no timeline; rebuild those
        (runs on the author's owner, where their follower edges are)."""
        async for followers in self._follower_pages(author_id):
            try:
                await self.forget_timelines(followers)
            except RpcError as error:
                log.warning("timelines of %s's followers not all marked for rebuild: %s", author_id, error)

    @owned_batch
    async def forget_timelines(self, user_ids: Iterable[int]) -> dict[int, bool]:
        """Mark these users' timelines for a rebuild, on each one's owner."""
        for user_id in user_ids:
            self.home.forget(user_id)
            self.reel_home.forget(user_id)
        return {}

    async def _follower_pages(self, author_id: int):
        after = 0
        while True:
            rows = await self.meta.read(
                shard_of(author_id),
                "SELECT dst, id FROM edges WHERE src = ? AND kind = 'follower' AND id > ? ORDER BY id LIMIT 1000",
                (author_id, after),
            )
            yield [row["dst"] for row in rows]
            if len(rows) < 1000:
                return
            after = rows[-1]["id"]

    @owned(lambda self, author_id, post_id: shard_of(author_id))
    async def remove_everywhere(self, author_id: int, post_id: int) -> None:
        """A deleted post leaves its followers' timelines, from the author's owner (where the
        follower edges are) to each follower's. Best effort: reads skip a deleted post anyway
        (hydration finds no post), so an entry left behind costs a slot until it is trimmed."""
        async for followers in self._follower_pages(author_id):
            try:
                await self.drop_from_timelines(followers, post_id)
            except RpcError as error:
                log.warning("post %s left in some timelines (skipped on read): %s", post_id, error)

    @owned_batch
    async def drop_from_timelines(self, user_ids: Iterable[int], post_id: int) -> dict[int, bool]:
        """Take a post out of these users' timelines, on each one's owner."""
        for user_id in user_ids:
            self.home.remove(user_id, post_id)
            self.reel_home.remove(user_id, post_id)
        return {}

    def stats(self) -> dict:
        return {
            "strategy": self.strategy,
            "delivered": self.fanout.delivered,
            "skipped_inactive": self.fanout.skipped,
            "rebuilds": self.rebuilds,
            "celebrities": len(self.celebrities.ids),
            "outbox_depth": self.fanout.depth,
            "unreachable_owners": sorted(self.fanout.unreachable),
            "timeline_entries": self.cache.entries(HOME),
            "timelines": self.cache.entries(self.home.states.name),
        }


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.startswith("r") or not cursor[1:].isdigit() or len(cursor) > 8:
        raise InvalidInput("cursor is not one this server gave out")
    return int(cursor[1:])


def _candidate(view: PostView) -> Candidate:
    card = view.record
    return Candidate(card.id, card.author_id, view.like_count, view.comment_count, card.kind)

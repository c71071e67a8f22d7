"""Explore: posts the viewer may enjoy, from people they do not follow.

The idea: gather a bounded pool of candidate posts from a few named sources, drop
what the viewer must not or need not see, score the rest, and page through that
order with an offset cursor ("r<offset>", as the ranked feed does).

Sources (each candidate keeps the strongest one that found it):
- co_engagement: people who liked what the viewer liked lately, and what else they liked;
- hashtags: recent posts with the tags of posts the viewer liked or posted;
- friends_of_friends: recent posts by accounts that the viewer's followees follow;
- trending: only when the others find nothing (a new account): the most liked
  posts of the last days.
Dropped: the viewer's own posts, followed authors, blocks either way, private
accounts the viewer cannot see (hydration checks visibility), posts already liked,
and posts already shown to the viewer in Explore more than SESSION_MINUTES ago (the
LMDB table `explore_seen` keeps, per viewer, the first time each of their last
SEEN_KEEP posts was shown). Within a session the pool stays the same, so paging on
neither skips nor repeats; the next visit brings new posts.

The rest are ordered by `state.ranker` (the learned ranker: the source's strength
is one of its features, beside affinity, engagement and age), and the page shown
is logged as impressions, so Explore learns from what people like there. With the
ranker module off, SourceRanker's fixed formula orders them.

In a cluster (docs/cluster.md) a page is made on the viewer's owner (`@owned`), where
their seen marks and ranked snapshots are cached and their impressions logged, and
each query runs on the owners of the shards it reads (reads.py): one call per instance.

Cost, per request: a few queries on the viewer's shard (follows, blocks, own posts),
and at most five scatters to every shard (recent likes, co-likers, their likes,
tags, followees' follows' posts; or trending), each returning at most PER_QUERY rows
(reads.py, where the queries are).
The reads behind them are indexed and bounded by the few users, tags and authors
fed in (at most CO_LIKERS, TAGS, FRIENDS_OF_FRIENDS), except two: the co-likers'
likes are all read to sort them (index likes_by_user, see migrations.py), and
trending counts every like of the last TRENDING_DAYS' posts (a PK range). Then the
pool (at most POOL posts) is hydrated from the cache, which gives counts and "liked".
The three personal sources run concurrently (their shards' reader threads overlap).
A first page does this work; later pages read the ranked order it stored
(feed/snapshots.py) and hydrate only their own posts.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Iterable, Sequence

from ..cluster.forward import owned
from ..feed.ranker import Candidate, ImpressionSink, Ranker, Scored
from ..feed.service import _offset
from ..feed.snapshots import RankedSnapshots
from ..ids import EPOCH_MS, SEQUENCE_BITS, SHARD_BITS, created_ms, shard_of
from ..posts.service import PostPage, PostsService, PostView
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.meta import ShardedMeta
from .reads import FRIENDS_OF_FRIENDS, ExploreReads

WEIGHTS = {"co_engagement": 3.0, "hashtags": 2.0, "friends_of_friends": 1.5, "trending": 1.0}
POOL = 300  # candidates hydrated and scored, at most
RECENT_LIKES = 20  # of the viewer's likes, the newest this many seed co-engagement and tags
CO_LIKERS = 50
TAGS = 10
TRENDING_DAYS = 7
HALF_LIFE_HOURS = 48.0
SEEN, SEEN_KEEP, SESSION_MINUTES = "explore_seen", 1000, 30
CACHE_TABLES = (SEEN,)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _candidate(view: PostView, source: str) -> Candidate:
    card = view.record
    return Candidate(card.id, card.author_id, view.like_count, view.comment_count, card.kind, source)


class SourceRanker:
    """The ranking used when the ranker module is off: a fixed formula,
    score = source weight x (1 + log1p(likes + comments)) x 0.5^(age_hours / HALF_LIFE_HOURS)."""

    name = "explore-formula"

    def __init__(self, clock_ms=now_ms) -> None:
        self.clock_ms = clock_ms

    def rank(self, viewer_id: int, candidates: Sequence[Candidate]) -> list[Scored]:
        now, scored = self.clock_ms(), []
        for c in candidates:
            age_hours = max(0.0, (now - created_ms(c.post_id)) / 3_600_000)
            engagement = 1 + math.log1p(c.like_count + c.comment_count)
            score = WEIGHTS.get(c.source, 1.0) * engagement * 0.5 ** (age_hours / HALF_LIFE_HOURS)
            scored.append(Scored(c.post_id, score, {"age_hours": age_hours, "engagement": engagement}))
        return sorted(scored, key=lambda s: (-s.score, -s.post_id))


class ExploreService:
    def __init__(
        self, meta: ShardedMeta, posts: PostsService, cache: CacheBackend, ranker: Ranker | None = None,
        impressions: ImpressionSink | None = None, clock_ms=now_ms,
    ) -> None:
        self.meta, self.posts, self.clock_ms = meta, posts, clock_ms
        self.ranker: Ranker = ranker or SourceRanker(clock_ms)
        self.impressions = impressions
        self.seen = CacheTable(cache, SEEN, dict[int, int])  # viewer -> {post id: first shown ms}
        self.snapshots = RankedSnapshots(cache)
        self.reads = ExploreReads(meta)
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)

    @owned(lambda self, viewer_id, *_: shard_of(viewer_id))
    async def page(self, viewer_id: int, cursor: str | None, limit: int) -> PostPage:
        offset = _offset(cursor)
        order = self.snapshots.load(viewer_id, "explore") if offset else None
        if order is None:  # a first page (or a lost snapshot): rank the pool afresh
            order = [(view.record.id, source) for view, source in await self.ranked(viewer_id)]
            self.snapshots.save(viewer_id, "explore", order)
        chosen = dict(order[offset : offset + limit])
        views = [view for view in await self.posts.hydrate(viewer_id, list(chosen)) if not view.liked]
        self._remember(viewer_id, [view.record.id for view in views])
        if self.impressions is not None:
            self.impressions.record(viewer_id, "explore", [_candidate(view, chosen[view.record.id]) for view in views])
        more = offset + limit < len(order)
        return PostPage(views, f"r{offset + limit}" if more else None)

    async def ranked(self, viewer_id: int) -> list[tuple[PostView, str]]:
        """The pool, scored by the ranker, best first, as (view, source)."""
        excluded = {viewer_id, *(row["dst"] for row in await self.reads.by_shard("excluded_authors", [viewer_id]))}
        sources = await self.candidates(viewer_id, excluded)
        views = await self.posts.hydrate(viewer_id, list(sources))
        seen = self._seen_before(viewer_id)
        kept = {
            v.record.id: v for v in views if not v.liked and v.record.author_id not in excluded and v.record.id not in seen
        }
        order = self.ranker.rank(viewer_id, [_candidate(v, sources[i]) for i, v in kept.items()])
        return [(kept[s.post_id], sources[s.post_id]) for s in order]

    # -- what the viewer has seen here -------------------------------------------------

    def _seen_before(self, viewer_id: int) -> set[int]:
        """Posts first shown before this session began."""
        session_start = self.clock_ms() - SESSION_MINUTES * 60_000
        return {post_id for post_id, shown_ms in (self.seen.get(viewer_id) or {}).items() if shown_ms < session_start}

    def _remember(self, viewer_id: int, post_ids: list[int]) -> None:
        if not post_ids:
            return
        seen, now = self.seen.get(viewer_id) or {}, self.clock_ms()
        for post_id in post_ids:
            seen.setdefault(post_id, now)
        if len(seen) > SEEN_KEEP:
            seen = dict(sorted(seen.items(), key=lambda item: item[1])[-SEEN_KEEP:])
        self.seen.put(viewer_id, seen)

    # -- candidates ------------------------------------------------------------------

    async def candidates(self, viewer_id: int, excluded: set[int]) -> dict[int, str]:
        """post id -> the strongest source that found it; at most POOL."""
        liked = await self._recent_likes(viewer_id)
        found: dict[int, str] = {}
        # The sources are independent: ask them at once, add them strongest first.
        co_engaged, tagged, friends_of_friends = await asyncio.gather(
            self._co_engagement(viewer_id, liked, excluded),
            self._by_hashtags(viewer_id, liked),
            self._friends_of_friends(viewer_id, excluded),
        )
        self._add(found, "co_engagement", co_engaged)
        self._add(found, "hashtags", tagged)
        self._add(found, "friends_of_friends", friends_of_friends)
        if not found:
            self._add(found, "trending", await self._trending())
        return found

    @staticmethod
    def _add(found: dict[int, str], source: str, post_ids: Iterable[int]) -> None:
        for post_id in post_ids:
            if len(found) >= POOL:
                return
            found.setdefault(post_id, source)  # sources are added strongest first

    async def _recent_likes(self, viewer_id: int) -> list[int]:
        rows = await self.reads.everywhere("recent_likes", (viewer_id, RECENT_LIKES))
        return [row["post_id"] for row in heapq.nlargest(RECENT_LIKES, rows, key=lambda r: r["id"])]

    async def _co_engagement(self, viewer_id: int, liked: list[int], excluded: set[int]) -> list[int]:
        if not liked:
            return []
        rows = await self.reads.by_shard("likers_of_posts", liked, (viewer_id,))
        likers = [u for u in dict.fromkeys(row["user_id"] for row in rows) if u not in excluded][:CO_LIKERS]
        if not likers:
            return []
        rows = await self.reads.everywhere("likes_of_people", values=likers)
        seen = set(liked)
        return [r["post_id"] for r in sorted(rows, key=lambda r: -r["id"]) if r["post_id"] not in seen]

    async def _by_hashtags(self, viewer_id: int, liked: list[int]) -> list[int]:
        own = (await self.reads.by_shard("posts_by", [viewer_id]))[:RECENT_LIKES]
        cards = await self.posts.load_cards([*liked, *(row["id"] for row in own)])
        tags = list(dict.fromkeys(tag for card in cards.values() for tag in card.hashtags))[:TAGS]
        if not tags:
            return []
        rows = await self.reads.everywhere("posts_with_tags", values=tags)
        return sorted((row["post_id"] for row in rows), reverse=True)

    async def _friends_of_friends(self, viewer_id: int, excluded: set[int]) -> list[int]:
        followees = [row["dst"] for row in await self.reads.by_shard("followees", [viewer_id])]
        if not followees:
            return []
        rows = await self.reads.by_shard("followees_of", followees)
        authors = [a for a in dict.fromkeys(row["dst"] for row in rows) if a not in excluded][:FRIENDS_OF_FRIENDS]
        if not authors:
            return []
        rows = await self.reads.by_shard("posts_by", authors)
        return sorted((row["id"] for row in rows), reverse=True)

    async def _trending(self) -> list[int]:
        since = max(0, self.clock_ms() - TRENDING_DAYS * 86_400_000 - EPOCH_MS) << (SHARD_BITS + SEQUENCE_BITS)
        rows = await self.reads.everywhere("trending", (since,))
        return [row["post_id"] for row in sorted(rows, key=lambda r: (-r["n"], -r["post_id"]))]

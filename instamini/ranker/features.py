"""The named features the learned ranker looks at, and the viewer's tastes behind two of them.

Each feature is a number of roughly unit scale (logs tame counts), computed from
what the caller already has (a Candidate: ids and cached counts) and two small
LMDB tables that the app's own events keep up to date:

    age_log_hours    log(1 + hours since posted): newer is usually better
    affinity         log(1 + how much the viewer interacted with the author lately):
                     likes 1, comments and saves 2, messages 1, stories watched 0.5,
                     halving every AFFINITY_HALF_LIFE_DAYS
    velocity         log(1 + (likes + 2 x comments) / (hours + 2)): engagement per hour
    popularity       log(1 + likes + comments): engagement in all
    kind_match       the share of the viewer's recent interactions on this kind
                     (post, reel or story), smoothed so a new viewer gets 1/3
    source_strength  Explore only: how strong the source that found it is
    own_post         1 for the viewer's own posts, which they rarely interact with

    ranker_affinity  (viewer, author) -> [score, updated ms]
    ranker_taste     viewer -> {kind: [score, updated ms]}

These tables are derived and decay anyway: losing the cache only makes the
ranker forget recent tastes, it breaks nothing.

Cost: one LMDB read per distinct author in the page and one for the viewer; a
few arithmetic operations per candidate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import msgspec

from ..feed.ranker import Candidate
from ..ids import created_ms
from ..stores.cache_base import CacheBackend, CacheTable

FEATURES = ("age_log_hours", "affinity", "velocity", "popularity", "kind_match", "source_strength", "own_post")
AFFINITY, TASTE = "ranker_affinity", "ranker_taste"
CACHE_TABLES = (AFFINITY, TASTE)
AFFINITY_HALF_LIFE_DAYS = 14.0
KINDS = ("post", "reel", "story")
SOURCE_STRENGTH = {"co_engagement": 1.0, "hashtags": 0.67, "friends_of_friends": 0.5, "trending": 0.33}
# How much each action says about a viewer's interest in an author.
ACTION_WEIGHTS = {"like": 1.0, "comment": 2.0, "save": 2.0, "message": 1.0, "story_seen": 0.5}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def decayed(score: float, updated_ms: int, now: int) -> float:
    return score * 0.5 ** (max(0, now - updated_ms) / (AFFINITY_HALF_LIFE_DAYS * 86_400_000))


class FeatureExtractor:
    def __init__(self, cache: CacheBackend, clock_ms=now_ms) -> None:
        self.affinity = CacheTable(cache, AFFINITY, tuple[float, int])
        self.taste = CacheTable(cache, TASTE, dict[str, tuple[float, int]])
        self.clock_ms = clock_ms

    # -- learning tastes from what people do -----------------------------------------

    def interacted(self, viewer_id: int, author_id: int, kind: str | None, action: str) -> None:
        """Strengthen the viewer's affinity with an author (and taste for a kind)."""
        if viewer_id == author_id:
            return
        now, weight = self.clock_ms(), ACTION_WEIGHTS[action]
        old = self.affinity.get((viewer_id, author_id))
        self.affinity.put((viewer_id, author_id), (weight + (decayed(*old, now) if old else 0.0), now))
        if kind in KINDS:
            taste = self.taste.get(viewer_id) or {}
            score, updated = taste.get(kind, (0.0, now))
            taste[kind] = (decayed(score, updated, now) + weight, now)
            self.taste.put(viewer_id, taste)

    # -- features --------------------------------------------------------------------

    def features(self, viewer_id: int, candidates: Sequence[Candidate]) -> list[dict[str, float]]:
        now = self.clock_ms()
        authors = list(dict.fromkeys(c.author_id for c in candidates))
        affinity = {
            author: decayed(*found, now) if found else 0.0
            for author, found in zip(authors, self.affinity.get_many([(viewer_id, a) for a in authors]))
        }
        taste = {kind: decayed(*value, now) for kind, value in (self.taste.get(viewer_id) or {}).items()}
        total_taste = sum(taste.values())
        rows = []
        for c in candidates:
            hours = max(0.0, (now - created_ms(c.post_id)) / 3_600_000)
            rows.append({
                "age_log_hours": math.log1p(hours),
                "affinity": math.log1p(affinity[c.author_id]),
                "velocity": math.log1p((c.like_count + 2 * c.comment_count) / (hours + 2)),
                "popularity": math.log1p(c.like_count + c.comment_count),
                "kind_match": (taste.get(c.kind, 0.0) + 1) / (total_taste + len(KINDS)),
                "source_strength": SOURCE_STRENGTH.get(c.source, 0.0),
                "own_post": 1.0 if c.author_id == viewer_id else 0.0,
            })
        return rows


encode_features = msgspec.msgpack.Encoder().encode
decode_features = msgspec.msgpack.Decoder(dict[str, float]).decode

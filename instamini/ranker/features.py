"""The named features the learned ranker looks at, and the viewer's tastes behind two of them.

Each feature is a number of roughly unit scale (logs tame counts), computed from
what the caller already has (a Candidate: ids and cached counts) and two small
LMDB tables that the app's own events keep up to date:

    age_log_hours    log(1 + hours since posted): newer is usually better
    affinity         log(1 + how much the viewer interacted with the author lately):
                     likes 1, comments and saves 2, messages 1, stories watched 0.5,
                     halving every AFFINITY_HALF_LIFE_DAYS
    author_rate      those interactions per time the author was shown to the viewer
                     (smoothed: (interactions + 0.25) / (shown + 5)): affinity counts
                     how much, this says how often, which tells a favourite from an
                     author who is merely shown a lot
    velocity         log(1 + (likes + 2 x comments) / (hours + 2)): engagement per hour
    popularity       log(1 + likes + comments): engagement in all
    kind_match       the share of the viewer's recent interactions on this kind
                     (post, reel or story), smoothed so a new viewer gets 1/3
    source_strength  Explore only: how strong the source that found it is
    own_post         1 for the viewer's own posts, which they rarely interact with

    ranker_affinity  (viewer, author) -> [score, updated ms, times shown]
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

FEATURES = (
    "age_log_hours", "affinity", "author_rate", "velocity", "popularity", "kind_match", "source_strength", "own_post",
)
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


class Affinity(msgspec.Struct, array_like=True):
    """One viewer's history with one author; both numbers decay from `updated_ms`."""

    score: float = 0.0  # weighted interactions
    updated_ms: int = 0
    shown: float = 0.0  # times the author's posts were logged as shown

    def at(self, now: int) -> Affinity:
        factor = decayed(1.0, self.updated_ms, now)
        return Affinity(self.score * factor, now, self.shown * factor)


class FeatureExtractor:
    def __init__(self, cache: CacheBackend, clock_ms=now_ms) -> None:
        self.affinity = CacheTable(cache, AFFINITY, Affinity)
        self.taste = CacheTable(cache, TASTE, dict[str, tuple[float, int]])
        self.clock_ms = clock_ms

    # -- learning tastes from what people do -----------------------------------------

    def interacted(self, viewer_id: int, author_id: int, kind: str | None, action: str) -> None:
        """Strengthen the viewer's affinity with an author (and taste for a kind)."""
        if viewer_id == author_id:
            return
        now, weight = self.clock_ms(), ACTION_WEIGHTS[action]
        current = (self.affinity.get((viewer_id, author_id)) or Affinity()).at(now)
        current.score += weight
        self.affinity.put((viewer_id, author_id), current)
        if kind in KINDS:
            taste = self.taste.get(viewer_id) or {}
            score, updated = taste.get(kind, (0.0, now))
            taste[kind] = (decayed(score, updated, now) + weight, now)
            self.taste.put(viewer_id, taste)

    def shown(self, viewer_id: int, author_ids: Sequence[int]) -> None:
        """Count that these authors' posts were shown to the viewer (once per author per call)."""
        now = self.clock_ms()
        authors = list(dict.fromkeys(a for a in author_ids if a != viewer_id))
        for author, found in zip(authors, self.affinity.get_many([(viewer_id, a) for a in authors])):
            current = (found or Affinity()).at(now)
            current.shown += 1
            self.affinity.put((viewer_id, author), current)

    # -- features --------------------------------------------------------------------

    def features(self, viewer_id: int, candidates: Sequence[Candidate]) -> list[dict[str, float]]:
        now = self.clock_ms()
        authors = list(dict.fromkeys(c.author_id for c in candidates))
        affinity = {
            author: (found or Affinity()).at(now)
            for author, found in zip(authors, self.affinity.get_many([(viewer_id, a) for a in authors]))
        }
        taste = {kind: decayed(*value, now) for kind, value in (self.taste.get(viewer_id) or {}).items()}
        total_taste = sum(taste.values())
        rows = []
        for c in candidates:
            history = affinity[c.author_id]
            hours = max(0.0, (now - created_ms(c.post_id)) / 3_600_000)
            rows.append({
                "age_log_hours": math.log1p(hours),
                "affinity": math.log1p(history.score),
                "author_rate": (history.score + 0.25) / (history.shown + 5),
                "velocity": math.log1p((c.like_count + 2 * c.comment_count) / (hours + 2)),
                "popularity": math.log1p(c.like_count + c.comment_count),
                "kind_match": (taste.get(c.kind, 0.0) + 1) / (total_taste + len(KINDS)),
                "source_strength": SOURCE_STRENGTH.get(c.source, 0.0),
                "own_post": 1.0 if c.author_id == viewer_id else 0.0,
            })
        return rows


encode_features = msgspec.msgpack.Encoder().encode
decode_features = msgspec.msgpack.Decoder(dict[str, float]).decode

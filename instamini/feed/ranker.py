"""The ranker interface, and the default: recency with a little engagement.

The idea: ranking is a separate, swappable step. The feed collects candidates (the
newest few dozen posts of the viewer's feed, from whichever strategy, with their
author and counts from the cache), the ranker gives each a score and the reasons
for it, and the page is the candidates in score order; only the page's posts are
then hydrated. A ranker is anything with `rank(viewer_id, posts) -> [Scored]`; the
discovery module brings a learned one. Reasons are kept so a person (or a teacher)
can ask why a post is where it is.

The default scores a post by its age, with a gentle boost for likes and comments
(log-scaled, so a viral post does not bury everything): a "hot" formula in the
spirit of Hacker News.

Cost: one pass over the candidates (a few dozen), no I/O.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Protocol

import msgspec

from ..ids import created_ms


class Candidate(msgspec.Struct, frozen=True):
    """What a ranker may look at: cheap facts from the cache, gathered before any hydration."""

    post_id: int  # a story's id for the story tray
    author_id: int
    like_count: int
    comment_count: int
    kind: str = "post"  # "post", "reel" or "story"
    source: str = ""  # Explore: which candidate source found it ("co_engagement", ...)


class Scored(msgspec.Struct, frozen=True):
    post_id: int
    score: float
    reasons: dict[str, float]  # the features it looked at, by name
    contributions: dict[str, float] = {}  # each term's additive share of the score, if it has terms


class Ranker(Protocol):
    name: str

    def rank(self, viewer_id: int, candidates: Sequence[Candidate]) -> list[Scored]: ...


class ImpressionSink(Protocol):
    """Where ranked surfaces say what they showed (the ranker module's ImpressionLog)."""

    def record(self, viewer_id: int, surface: str, candidates: Sequence[Candidate]) -> None: ...


class RecencyRanker:
    """score = (1 + log1p(likes) + 2·log1p(comments)) / (age_hours + 2)^1.5"""

    name = "recency"

    def __init__(self, clock_ms=lambda: time.time_ns() // 1_000_000) -> None:
        self.clock_ms = clock_ms

    def rank(self, viewer_id: int, candidates: Sequence[Candidate]) -> list[Scored]:
        now = self.clock_ms()
        scored = []
        for candidate in candidates:
            age_hours = max(0.0, (now - created_ms(candidate.post_id)) / 3_600_000)
            engagement = 1 + math.log1p(candidate.like_count) + 2 * math.log1p(candidate.comment_count)
            freshness = 1 / (age_hours + 2) ** 1.5
            reasons = {"age_hours": round(age_hours, 2), "engagement": round(engagement, 3), "freshness": round(freshness, 5)}
            # Each term of engagement, times freshness, is its additive share of the score.
            terms = {
                "base": 1.0, "likes": math.log1p(candidate.like_count), "comments": 2 * math.log1p(candidate.comment_count)
            }
            shares = {name: term * freshness for name, term in terms.items()}
            scored.append(Scored(candidate.post_id, engagement * freshness, reasons, shares))
        # Ties (same score) keep newest first, so the order is stable and explainable.
        return sorted(scored, key=lambda s: (-s.score, -s.post_id))

"""The learned ranker: features from features.py scored by the logistic model.

It answers the same `rank(viewer_id, candidates)` as every ranker (feed/ranker.py),
so the home feed, reels, the story tray and Explore all use it unchanged. Each
Scored carries the feature values (reasons) and each one's contribution to the
score, which `GET /api/v1/feed/explain/{post_id}` shows. The model object is
replaced whole when the trainer retrains, and nudged in place by online updates.

Cost: FeatureExtractor's reads (one LMDB lookup per distinct author) plus a dot
product of seven features per candidate: tens of microseconds for a page.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..feed.ranker import Candidate, Scored
from .features import FeatureExtractor
from .model import LogisticModel


class LearnedRanker:
    name = "learned"

    def __init__(self, features: FeatureExtractor, model: LogisticModel | None = None) -> None:
        self.extractor = features
        self.model = model or LogisticModel()

    def rank(self, viewer_id: int, candidates: Sequence[Candidate]) -> list[Scored]:
        model = self.model
        rows = self.extractor.features(viewer_id, candidates)
        scored = []
        for candidate, features in zip(candidates, rows):
            contributions = model.contributions(features)
            scored.append(Scored(candidate.post_id, sum(contributions.values()), features, contributions))
        # Ties keep newest first, so the order is stable.
        return sorted(scored, key=lambda s: (-s.score, -s.post_id))

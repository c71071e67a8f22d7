"""Offline quality of a ranking: AUC and NDCG, computed from labelled impressions.

AUC: the chance that a random positive (an item the viewer acted on) is scored
above a random negative; 0.5 is a coin, 1.0 perfect. NDCG@k: per session (what one
viewer was shown together), how close the top k of the ranking come to putting all
positives first, discounted by position (log2), averaged over sessions with at
least one positive. The benchmark (benchmarks/ranker_quality.py) compares the
learned model with chronological order on the same examples.

Cost: a sort of the examples (AUC) and of each session (NDCG).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Mann-Whitney U statistic over ranks (ties share their average rank)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return float("nan")
    positive_rank_sum = sum(rank for rank, label in zip(ranks, labels) if label)
    return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def ndcg(scores: Sequence[float], labels: Sequence[int], k: int = 10) -> float | None:
    """NDCG@k of one session; None if it has no positive (nothing to find)."""
    ideal = sorted(labels, reverse=True)[:k]
    if not any(ideal):
        return None
    ranked = [label for _, label in sorted(zip(scores, labels), key=lambda pair: -pair[0])][:k]

    def dcg(gains: Sequence[int]) -> float:
        return sum(gain / math.log2(position + 2) for position, gain in enumerate(gains))

    return dcg(ranked) / dcg(ideal)


def mean_ndcg(sessions: Sequence[tuple[Sequence[float], Sequence[int]]], k: int = 10) -> float:
    values = [v for scores, labels in sessions if (v := ndcg(scores, labels, k)) is not None]
    return sum(values) / len(values) if values else float("nan")

"""A bucketed histogram counted as plain integers: what each Prometheus histogram here is made of.

The idea: the hot path (a fan-out delivery, an RPC round trip, a loop-lag sample) only
finds its bucket (a binary search over a dozen bounds) and adds one; the collectors
registered for /metrics turn the counts into cumulative buckets when it is scraped, so
nothing is registered at import and tests can build as many as they like.

Cost: one bisect and three additions per observation; a list of counts per histogram.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class Histogram:
    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)  # upper bounds, ascending; one more bucket holds the rest
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0
        self.observations = 0
        self.max = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.observations += 1
        self.max = max(self.max, value)

    def buckets(self) -> list[tuple[str, int]]:
        """Cumulative (upper bound, count) pairs, "+Inf" last: Prometheus's form."""
        running, out = 0, []
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts):
            running += count
            out.append((bound, running))
        return out

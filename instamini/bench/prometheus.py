"""Reading the server's Prometheus text (`/metrics`) from a benchmark.

The idea: the server measures what only it can see (fan-out lag, queue depths) as
Prometheus metrics; a benchmark scrapes them before and after a phase and works out
what happened in between, as Prometheus itself would (`histogram_quantile` over the
increase of a histogram's buckets).

Cost: one HTTP request per scrape and a pass over its lines.
"""

from __future__ import annotations

import math
import re
import urllib.request

BUCKET_LE = re.compile(r'le="([^"]+)"')


def histogram_buckets(text: str, name: str) -> dict[float, float]:
    """Cumulative count per upper bound (`le`) of histogram `name`, summed over other labels."""
    buckets: dict[float, float] = {}
    prefix = name + "_bucket{"
    for line in text.splitlines():
        if line.startswith(prefix):
            labels, _, value = line.rpartition("}")
            upper = float(BUCKET_LE.search(labels).group(1))  # float("+Inf") is inf
            buckets[upper] = buckets.get(upper, 0.0) + float(value.split()[0])
    return buckets


def histogram_quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float | None:
    """The q-quantile of what was observed between two scrapes, as Prometheus computes it.

    Linear interpolation inside the bucket the rank falls in (lower bound 0 for the first
    bucket); a rank in the +Inf bucket gives the largest finite bound. None if nothing was
    observed in between.
    """
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not bounds or counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    lower, below = 0.0, 0.0
    for upper, count in zip(bounds, counts):
        if count >= rank:
            if math.isinf(upper):
                return lower
            if upper <= 0 or count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def observed_range(before: dict[float, float], after: dict[float, float]) -> tuple[float, float] | None:
    """Bounds of the buckets that gained observations between two scrapes: all of them lie inside."""
    lows, highs, lower, below = [], [], 0.0, 0.0
    for upper in sorted(after):
        count = after[upper] - before.get(upper, 0.0)
        if count > below:
            lows.append(lower)
            highs.append(upper)
        lower, below = upper, count
    return (lows[0], highs[-1]) if lows else None


def metric_value(text: str, name: str) -> float | None:
    """The value of an unlabelled sample (a gauge), or None if the server does not export it."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def scrape(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as response:
        return response.read().decode()

"""The numbers behind the `/system` page: `GET /api/v1/system/stats`.

The idea: an educator watches the architecture work. Every figure here is read from
the live objects (counters kept anyway, the cache's hit counts, the hub's sockets),
except the shards' row counts, which cost a `SELECT count(*)` per table per shard and
are therefore kept for 5 seconds: a page polling every second costs nothing.
No user data is in the answer, so anyone may read it.

The JSON shape (a section is null when its module is switched off):

    {
      "now": 1764000000.123,              # server time, unix seconds (rates = delta / delta)
      "uptime_seconds": 12.5,
      "debug": false,                     # development mode: POST /api/v1/system/feed-strategy works
      "modules": ["system", "accounts", "graph", ...],   # enabled, in start-up order
      "requests": 1234,                   # HTTP requests answered since start (websockets not counted)
      "meta": {"shards": 4, "commits": 321, "write_jobs": 456},
      "cache": {"hit_ratio": 0.93, "hits": 900, "misses": 70, "entries": 5678},
      "shards": [                         # one per logical shard; rows, as of `counted_at`
        {"shard": 0, "users": 3, "posts": 10, "edges": 4, "likes": 7, "comments": 2, "messages": 5},
        ...
      ],
      "counted_at": 1764000000.0,         # when the shard rows were counted (refreshed every 5 s)
      "feed": {
        "strategy": "hybrid",             # push | pull | hybrid
        "strategies": ["push", "pull", "hybrid"],
        "outbox_depth": 0,                # posts waiting for fan-out
        "delivered": 42,                  # timeline entries written by fan-out
        "rebuilds": 1,                    # timelines rebuilt on read
        "timelines": 3,                   # home timelines in the cache
        "celebrities": 0,                 # authors pulled at read time (hybrid)
        "fanout_lag": {"count": 9, "p50": 0.004, "p90": 0.009, "p95": 0.01, "p99": 0.02}  # seconds; null when count is 0
      },
      "realtime": {"sockets": 2, "users_online": 1},
      "media": {"queued": 0, "processed": 3, "failed": 0, "workers": 2, "busy": 0},
      "ranker": {                         # null unless the ranker module is on
        "impressions": 120, "interacted": 10, "skipped": 30, "pending": 80, "retrains": 0,
        "weights": {"bias": 0.0, "feature name": 0.12, ...}
      }
    }

The figure `edges` counts rows: a follow is written on both sides (see graph/), so one
follow between users on two shards is two rows. Percentiles of the fan-out lag are
estimated from the histogram's buckets, as Prometheus' `histogram_quantile` does.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

from ..feed.fanout import LAG_BUCKETS

# Refresh period of the shards' row counts.
COUNT_SECONDS = 5.0
# (figure, table) counted on every shard; a table a switched-off module never created counts 0.
COUNTED = (("users", "users"), ("posts", "posts"), ("edges", "edges"), ("likes", "likes"), ("comments", "comments"),
           ("messages", "messages"))
PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))


class RequestCounter:
    """A raw ASGI middleware that counts HTTP requests: one integer add per request."""

    def __init__(self) -> None:
        self.requests = 0

    def middleware(self, app):
        async def count(scope, receive, send):
            if scope["type"] == "http":
                self.requests += 1
            await app(scope, receive, send)

        return count


class SystemStats:
    def __init__(self, state, modules: list[str], debug: bool, counter: RequestCounter) -> None:
        self.state, self.modules, self.debug, self.counter = state, modules, debug, counter
        self.started = time.time()
        self._rows: list[dict] = []
        self._counted_at = 0.0
        self._queued = 0
        self._counting = asyncio.Lock()

    async def snapshot(self) -> dict:
        now = time.time()
        if now - self._counted_at >= COUNT_SECONDS:
            async with self._counting:  # pages polling at once share one count
                if time.time() - self._counted_at >= COUNT_SECONDS:
                    await self._count_rows()
                    self._counted_at = time.time()
        state = self.state
        meta, cache = state.get("meta"), state.get("cache")
        return {
            "now": now,
            "uptime_seconds": round(now - self.started, 3),
            "debug": self.debug,
            "modules": self.modules,
            "requests": self.counter.requests,
            "meta": meta.stats() if meta is not None else None,
            "cache": cache_figures(cache) if cache is not None else None,
            "shards": self._rows,
            "counted_at": self._counted_at,
            "feed": feed_figures(state.get("feed")),
            "realtime": hub_figures(state.get("hub")),
            "media": self._media_figures(state.get("media")),
            "ranker": ranker_figures(state) if state.get("impressions") is not None else None,
        }

    async def _count_rows(self) -> None:
        meta = self.state.get("meta")
        if meta is None:
            return
        with_media = self.state.get("media") is not None

        async def one(shard: int) -> tuple[dict, int]:
            row = {"shard": shard}
            for figure, table in COUNTED:
                row[figure] = await _count(meta, shard, f"SELECT count(*) FROM {table}")
            queued = await _count(meta, shard, "SELECT count(*) FROM media_jobs WHERE state = 'queued'") if with_media else 0
            return row, queued

        counted = await asyncio.gather(*(one(shard) for shard in range(meta.shard_count)))  # shards in parallel
        self._rows, self._queued = [row for row, _ in counted], sum(queued for _, queued in counted)

    def _media_figures(self, media) -> dict | None:
        if media is None:
            return None
        stats = media.stats()
        return {"queued": self._queued, "processed": stats["processed"], "failed": stats["failed"],
                "workers": stats.get("workers", 0), "busy": stats.get("busy", 0)}

    def forget_counts(self) -> None:
        """The next snapshot counts the rows again (tests, and after a strategy switch)."""
        self._counted_at = 0.0


async def _count(meta, shard: int, sql: str) -> int:
    try:
        row = await meta.read_one(shard, sql)
    except sqlite3.OperationalError:  # no such table: its module is off
        return 0
    return int(row[0]) if row is not None else 0


def cache_figures(cache) -> dict:
    return {
        "hit_ratio": round(cache.hit_ratio(), 4),
        "hits": sum(cache.hits.values()),
        "misses": sum(cache.misses.values()),
        "entries": sum(cache.entries(table) for table in cache.tables),
    }


def feed_figures(feed) -> dict | None:
    if feed is None:
        return None
    stats, lag = feed.stats(), feed.fanout.lag
    return {
        "strategy": stats["strategy"],
        "strategies": ["push", "pull", "hybrid"],
        "outbox_depth": stats["outbox_depth"],
        "delivered": stats["delivered"],
        "rebuilds": stats["rebuilds"],
        "timelines": stats["timelines"],
        "celebrities": stats["celebrities"],
        "fanout_lag": lag_percentiles(lag.counts),
    }


def lag_percentiles(counts: list[int]) -> dict:
    """Quantiles from bucket counts (the last bucket is +Inf), interpolated inside a bucket."""
    total = sum(counts)
    figures: dict = {"count": total}
    for name, q in PERCENTILES:
        figures[name] = None if total == 0 else round(_quantile(q, counts, total), 6)
    return figures


def _quantile(q: float, counts: list[int], total: int) -> float:
    rank, running = q * total, 0
    for index, count in enumerate(counts):
        if count and running + count >= rank:
            if index == len(LAG_BUCKETS):  # the +Inf bucket: the best we know is the last bound
                return LAG_BUCKETS[-1]
            low = LAG_BUCKETS[index - 1] if index else 0.0
            return low + (LAG_BUCKETS[index] - low) * (rank - running) / count
        running += count
    return LAG_BUCKETS[-1]


def hub_figures(hub) -> dict | None:
    if hub is None:
        return None
    return {"sockets": hub.connections(), "users_online": hub.users_online()}


def ranker_figures(state) -> dict:
    impressions, model = state.impressions, state.learned_ranker.model
    trainer = state.get("ranker_trainer")
    return {
        "impressions": impressions.shown,
        "interacted": impressions.positives,
        "skipped": impressions.negatives,
        "pending": len(impressions.pending),
        "retrains": trainer.retrains if trainer is not None else 0,
        "weights": {"bias": model.bias, **dict(sorted(model.weights.items()))},
    }

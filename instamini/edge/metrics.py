"""The edge's figures for Prometheus, read at scrape time from the live cache (nothing counted twice).

`prefix` starts every name: "instamini_edge" for the standalone edge, another for the
in-process cache of an instance (media/peer_files.py), so that both can be registered
in one process (tests build an instance and an edge side by side)."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class EdgeCollector:
    def __init__(self, edge, prefix: str = "instamini_edge") -> None:
        self.edge, self.prefix = edge, prefix

    def collect(self):
        stats, p = self.edge.cache.stats(), self.prefix
        yield CounterMetricFamily(f"{p}_hits", "Media requests answered from the cache", stats["hits"])
        yield CounterMetricFamily(f"{p}_misses", "Media requests that had to fetch from an origin", stats["misses"])
        yield GaugeMetricFamily(f"{p}_hit_ratio", "Hits over media lookups since start", stats["hit_ratio"])
        yield CounterMetricFamily(
            f"{p}_coalesced", "Misses that joined a fetch already in flight (single flight)", stats["coalesced"]
        )
        yield CounterMetricFamily(f"{p}_evictions", "Files evicted to keep the cache under its bound", stats["evictions"])
        yield CounterMetricFamily(
            f"{p}_refused", "Origin answers refused: their sha256 was not their name", stats["refused"]
        )
        yield CounterMetricFamily(
            f"{p}_too_large", "Files larger than the whole cache, passed through uncached", stats["too_large"]
        )
        yield CounterMetricFamily(f"{p}_origin_bytes", "Bytes fetched from origins into the cache", stats["fetched_bytes"])
        yield CounterMetricFamily(f"{p}_served_bytes", "Media body bytes sent to clients", self.edge.bytes_served)
        yield CounterMetricFamily(f"{p}_passed_through", "Requests passed on to an origin", self.edge.passed_through)
        yield CounterMetricFamily(
            f"{p}_routed_to_owner", "Passed-through requests sent first to their sender's instance", self.edge.routed_to_owner
        )
        yield GaugeMetricFamily(f"{p}_cache_bytes", "Bytes of cached files on disk", stats["bytes"])
        yield GaugeMetricFamily(f"{p}_cache_max_bytes", "The bound on the cached files' total size", stats["max_bytes"])
        yield GaugeMetricFamily(f"{p}_cache_files", "Files in the cache", stats["entries"])
        yield GaugeMetricFamily(f"{p}_memory_bytes", "Bytes of small files also kept in memory", stats["memory_bytes"])
        yield GaugeMetricFamily(f"{p}_fetching", "Origin fetches in flight", stats["fetching"])

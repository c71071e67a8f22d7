"""The edge's figures for Prometheus, read at scrape time from the live cache (nothing counted twice)."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


class EdgeCollector:
    def __init__(self, edge) -> None:
        self.edge = edge

    def collect(self):
        stats = self.edge.cache.stats()
        yield CounterMetricFamily("instamini_edge_hits", "Media requests answered from the cache", stats["hits"])
        yield CounterMetricFamily("instamini_edge_misses", "Media requests that had to fetch from an origin", stats["misses"])
        yield GaugeMetricFamily("instamini_edge_hit_ratio", "Hits over media lookups since start", stats["hit_ratio"])
        yield CounterMetricFamily(
            "instamini_edge_coalesced", "Misses that joined a fetch already in flight (single flight)", stats["coalesced"]
        )
        yield CounterMetricFamily("instamini_edge_evictions", "Files evicted to keep the cache under its bound", stats["evictions"])
        yield CounterMetricFamily(
            "instamini_edge_refused", "Origin answers refused: their sha256 was not their name", stats["refused"]
        )
        yield CounterMetricFamily(
            "instamini_edge_too_large", "Files larger than the whole cache, passed through uncached", stats["too_large"]
        )
        yield CounterMetricFamily("instamini_edge_origin_bytes", "Bytes fetched from origins into the cache", stats["fetched_bytes"])
        yield CounterMetricFamily("instamini_edge_served_bytes", "Media body bytes sent to clients", self.edge.bytes_served)
        yield CounterMetricFamily("instamini_edge_passed_through", "Requests passed on to an origin", self.edge.passed_through)
        yield GaugeMetricFamily("instamini_edge_cache_bytes", "Bytes of cached files on disk", stats["bytes"])
        yield GaugeMetricFamily("instamini_edge_cache_max_bytes", "The bound on the cached files' total size", stats["max_bytes"])
        yield GaugeMetricFamily("instamini_edge_cache_files", "Files in the cache", stats["entries"])
        yield GaugeMetricFamily("instamini_edge_memory_bytes", "Bytes of small files also kept in memory", stats["memory_bytes"])
        yield GaugeMetricFamily("instamini_edge_fetching", "Origin fetches in flight", stats["fetching"])

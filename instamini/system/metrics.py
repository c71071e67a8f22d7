"""Store figures for Prometheus, read at scrape time from the live objects."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily


class StoresCollector:
    def __init__(self, state) -> None:
        self.state = state

    def collect(self):
        meta, cache = self.state.get("meta"), self.state.get("cache")
        if meta is not None:
            stats = meta.stats()
            yield GaugeMetricFamily("instamini_meta_shards", "Logical shards in this data directory", stats["shards"])
            yield CounterMetricFamily("instamini_meta_commits", "SQLite transactions committed", stats["commits"])
            yield CounterMetricFamily("instamini_meta_write_jobs", "Write jobs committed", stats["write_jobs"])
        if cache is not None:
            hits = CounterMetricFamily("instamini_cache_hits", "Cache hits", labels=["table"])
            misses = CounterMetricFamily("instamini_cache_misses", "Cache misses", labels=["table"])
            for table in cache.tables:
                hits.add_metric([table], cache.hits[table])
                misses.add_metric([table], cache.misses[table])
            yield hits
            yield misses
            yield GaugeMetricFamily("instamini_cache_hit_ratio", "Hits over lookups since start", cache.hit_ratio())
        media = self.state.get("media")
        if media is not None:
            stats = media.stats()
            yield CounterMetricFamily("instamini_media_processed", "Uploads processed into variants", stats["processed"])
            yield CounterMetricFamily("instamini_media_failed", "Uploads refused or failed in a worker", stats["failed"])
            yield CounterMetricFamily("instamini_media_worker_crashes", "Worker processes that died mid-job", stats["crashes"])
            yield CounterMetricFamily("instamini_media_worker_timeouts", "Jobs killed for running over time", stats["timeouts"])
            yield GaugeMetricFamily("instamini_media_worker_peak_rss_kb", "Largest resident memory a worker reported", stats["peak_rss_kb"])
        hub = self.state.get("hub")
        if hub is not None:
            yield GaugeMetricFamily("instamini_ws_connections", "Open websocket connections", hub.connections())
            yield GaugeMetricFamily("instamini_ws_users_online", "People with at least one open socket", hub.users_online())
            yield CounterMetricFamily("instamini_ws_frames_pushed", "Frames queued for sockets by the hub", hub.delivered)
            yield CounterMetricFamily("instamini_ws_slow_readers_closed", "Frames that found a full send queue", hub.dropped_slow)
        feed = self.state.get("feed")
        if feed is not None:
            yield from feed_metrics(feed)
        if self.state.get("impressions") is not None:
            yield from ranker_metrics(self.state)


def feed_metrics(feed):
    stats, lag = feed.stats(), feed.fanout.lag
    yield HistogramMetricFamily(
        "instamini_feed_fanout_lag_seconds",
        "Time from a post's commit to its delivery to every active follower",
        buckets=lag.buckets(),
        sum_value=lag.total,
    )
    yield GaugeMetricFamily("instamini_feed_outbox_depth", "Posts waiting for fan-out (counted about once a second)", stats["outbox_depth"])
    yield CounterMetricFamily("instamini_feed_deliveries", "Timeline entries written by fan-out", stats["delivered"])
    yield CounterMetricFamily("instamini_feed_skipped_inactive", "Deliveries skipped: timeline not built or inactive", stats["skipped_inactive"])
    yield CounterMetricFamily("instamini_feed_rebuilds", "Timelines rebuilt on read (cold cache or returning user)", stats["rebuilds"])
    yield GaugeMetricFamily("instamini_feed_timelines", "Home timelines in the cache", stats["timelines"])
    yield GaugeMetricFamily("instamini_feed_timeline_entries", "Entries over all home timelines", stats["timeline_entries"])


def ranker_metrics(state):
    impressions, trainer, model = state.impressions, state.ranker_trainer, state.learned_ranker.model
    yield CounterMetricFamily("instamini_ranker_impressions", "Items logged as shown on a ranked surface", impressions.shown)
    labelled = CounterMetricFamily("instamini_ranker_labelled", "Impressions labelled, by outcome", labels=["label"])
    labelled.add_metric(["interacted"], impressions.positives)
    labelled.add_metric(["skipped"], impressions.negatives)
    yield labelled
    yield GaugeMetricFamily("instamini_ranker_pending", "Impressions waiting for a label", len(impressions.pending))
    yield CounterMetricFamily("instamini_ranker_retrains", "Scheduled retrains of the model", trainer.retrains)
    weights = GaugeMetricFamily("instamini_ranker_weight", "The learned model's weight per feature", labels=["feature"])
    for name, weight in sorted(model.weights.items()):
        weights.add_metric([name], weight)
    weights.add_metric(["bias"], model.bias)
    yield weights

"""Internal RPC figures for Prometheus, counted as plain integers and read at scrape time.

As in system/metrics.py, nothing is registered at import and the hot path only adds to
dicts; a collector, registered by the cluster module while the app runs, turns them into
metric families when /metrics is scraped:

    instamini_rpc_client_requests_total{instance}        HTTP requests sent (one per batch attempt)
    instamini_rpc_client_calls_total{instance}           procedure calls sent (items of the batches)
    instamini_rpc_client_retries_total{instance}         attempts made again after a failure
    instamini_rpc_client_errors_total{instance,kind}     unavailable, refused, protocol, procedure
    instamini_rpc_client_latency_seconds{instance}       one batch, from first send to answer, retries included
    instamini_rpc_client_partial_results_total            batch shares left out of a page: their owner did not answer
    instamini_rpc_server_calls_total{procedure,outcome}  calls run here: "ok" or the error code
    instamini_rpc_server_refused_total{reason}           requests turned away before running anything
"""

from __future__ import annotations

from collections import Counter

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from ..histogram import Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ClientMetrics:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.latency: dict[str, Histogram] = {}
        self.partial_results = 0  # owned_batch(partial=True) shares skipped (cluster/forward.py)

    def observe(self, instance: str, seconds: float) -> None:
        histogram = self.latency.get(instance)
        if histogram is None:
            histogram = self.latency[instance] = Histogram(LATENCY_BUCKETS)
        histogram.observe(seconds)


def _counter(name: str, documentation: str, labels: list[str], counts: Counter) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(counts.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return family


class RpcCollector:
    """Registered on prometheus_client's REGISTRY by the cluster module while the app runs."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster

    def collect(self):
        client, registry, server = self.cluster.client.metrics, self.cluster.procedures, self.cluster.server
        yield _counter("instamini_rpc_client_requests", "Internal RPC HTTP requests sent", ["instance"], client.requests)
        yield _counter("instamini_rpc_client_calls", "Internal RPC procedure calls sent", ["instance"], client.calls)
        yield _counter("instamini_rpc_client_retries", "Internal RPC attempts retried", ["instance"], client.retries)
        yield _counter("instamini_rpc_client_errors", "Internal RPC calls that failed, by kind", ["instance", "kind"],
                       client.errors)
        latency = HistogramMetricFamily(
            "instamini_rpc_client_latency_seconds", "Internal RPC batch round trips, retries included", labels=["instance"]
        )
        for instance, histogram in sorted(client.latency.items()):
            latency.add_metric([instance], histogram.buckets(), histogram.total)
        yield latency
        partial = CounterMetricFamily(
            "instamini_rpc_client_partial_results", "Batch shares left out of a page because their owner did not answer"
        )
        partial.add_metric([], client.partial_results)
        yield partial
        yield _counter("instamini_rpc_server_calls", "Internal RPC procedure calls run here, by outcome",
                       ["procedure", "outcome"], registry.outcomes)
        yield _counter("instamini_rpc_server_refused", "Internal RPC requests refused before running", ["reason"],
                       server.refused)

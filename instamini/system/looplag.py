"""Event-loop lag: how late the loop runs a callback that was due, as a Prometheus histogram.

The idea: everything in instamini shares one event loop, so one handler that blocks it
(a synchronous hash, a big JSON encode, a slow disk read on the loop) delays every other
request by as long. A request's own latency does not show who caused it; the loop's lag
does. A small task sleeps a fixed interval again and again and records how much later
than asked it woke up (the overshoot): on an idle loop about a millisecond (the timer's
resolution); on a loop that something blocked for 80 ms, about 80 ms.

    instamini_event_loop_lag_seconds        histogram of the overshoots
    instamini_event_loop_lag_max_seconds    the largest overshoot since start

Cost: one timer wake-up every `interval` seconds (20 a second by default: a few
microseconds each). A stall shorter than the interval may fall between two samples, so
the histogram is a sample of the lag, not every stall; the max catches any stall that
overlaps a sleep.
"""

from __future__ import annotations

import time

import anyio
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from ..histogram import Histogram

INTERVAL_SECONDS = 0.05
# Upper bounds (seconds); 0.05 is one of them so that "p99 under 50 ms" is decided by a bucket edge.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LoopLagMonitor(Histogram):
    """`await monitor.run()` in a task group samples forever; `measure_once()` takes one sample."""

    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        super().__init__(LAG_BUCKETS)
        self.interval = interval

    async def measure_once(self) -> float:
        """Sleep one interval and record how much longer than that it took."""
        asked = time.perf_counter()
        await anyio.sleep(self.interval)
        lag = max(0.0, time.perf_counter() - asked - self.interval)
        self.observe(lag)
        return lag

    async def run(self) -> None:
        while True:
            await self.measure_once()

    def collect(self):
        """A prometheus_client collector: the figures, read at scrape time."""
        yield HistogramMetricFamily(
            "instamini_event_loop_lag_seconds", "How late the event loop woke a task that slept a fixed interval",
            buckets=self.buckets(), sum_value=self.total,
        )
        yield GaugeMetricFamily(
            "instamini_event_loop_lag_max_seconds", "Largest event-loop lag sampled since start", self.max
        )

"""The event-loop lag monitor: a blocked loop shows as lag, in the histogram /metrics serves.

A real loop is blocked on purpose (a synchronous sleep inside a task): the monitor's
sample must come out at least that much late. Only lower bounds are asserted, which a
busy machine cannot break.
"""

from __future__ import annotations

import time

import anyio

from instamini.bench.prometheus import histogram_buckets, metric_value
from instamini.system.looplag import LoopLagMonitor

NAME = "instamini_event_loop_lag_seconds"


async def test_a_loop_blocked_for_100_ms_is_sampled_as_at_least_90_ms_late():
    monitor = LoopLagMonitor(interval=0.01)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(monitor.measure_once)
        await anyio.sleep(0)  # let the sample start its sleep ...
        time.sleep(0.1)  # ... then block the loop past its wake-up, as a synchronous handler would
    assert monitor.observations == 1
    assert monitor.max >= 0.09
    buckets = dict(monitor.buckets())
    assert buckets["0.05"] == 0 and buckets["+Inf"] == 1  # counted above the 50 ms edge
    assert monitor.total == monitor.max


async def test_an_idle_loop_samples_land_in_the_low_buckets_and_every_sample_is_counted():
    monitor = LoopLagMonitor(interval=0.001)
    for _ in range(5):
        assert await monitor.measure_once() >= 0.0
    buckets = dict(monitor.buckets())
    assert buckets["+Inf"] == monitor.observations == 5
    assert list(map(int, buckets.values())) == sorted(buckets.values())  # cumulative


async def test_the_server_exports_the_histogram_and_its_max_at_metrics(client):
    monitor = client.app.state.loop_lag
    before = histogram_buckets((await client.get("/metrics")).text, NAME)
    monitor.observe(0.07)  # one stall of 70 ms, as the running monitor would record it
    text = (await client.get("/metrics")).text
    after = histogram_buckets(text, NAME)
    # In the (50 ms, 100 ms] bucket (the running monitor may add samples meanwhile: lower bound).
    assert (after[0.1] - after[0.05]) - (before.get(0.1, 0) - before.get(0.05, 0)) >= 1
    assert metric_value(text, "instamini_event_loop_lag_max_seconds") >= 0.07

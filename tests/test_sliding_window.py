"""SlidingWindowLimiter: at most N events per key in the last W seconds, in bounded memory."""

from __future__ import annotations

from instamini.sliding_window import SlidingWindowLimiter


def test_the_window_slides():
    now = [1000.0]
    limiter = SlidingWindowLimiter(2, 60, clock=lambda: now[0])
    assert limiter.retry_after("k") is None
    limiter.record("k")
    now[0] += 10
    limiter.record("k")
    assert limiter.retry_after("k") == 50  # the first event leaves the window in 50 s
    now[0] += 50
    assert limiter.retry_after("k") is None  # one event left in the window
    limiter.record("k")
    assert limiter.retry_after("k") == 10
    limiter.reset("k")
    assert limiter.retry_after("k") is None


def test_memory_is_bounded_however_many_keys():
    now = [0.0]
    limiter = SlidingWindowLimiter(1, 60, clock=lambda: now[0], max_keys=10)
    for i in range(100):
        limiter.record(f"user{i}")
    assert len(limiter._events) <= 10
    assert limiter.retry_after("user99") is not None  # the newest are kept

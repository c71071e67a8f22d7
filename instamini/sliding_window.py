"""A sliding-window limit: at most N events per key within the last W seconds.

The idea: keep the times of a key's recent events (a deque of at most N); an event is
allowed while fewer than N are younger than W seconds, and the answer when it is not is
how long until the oldest leaves the window (a Retry-After). It is exact, unlike a fixed
window that lets 2N through around the window's edge, and it needs no store: it lives in
one process, as the counts it guards (failed logins of an account on its owner,
websocket handshakes from an address on one instance) do. Litestar's rate-limit
middleware does this for HTTP requests per address; it does not see accounts, and it
does not run for websocket handshakes.

Cost: a deque of up to N floats per key with recent events; when `max_keys` keys are held
the expired ones are dropped, then the oldest half, so a flood of new keys (made-up
usernames, many addresses) cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """`retry_after(key)` before the work (None: go ahead), `record(key)` when it happens."""

    def __init__(
        self, max_events: int, window_seconds: float, *, clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.max_events = max_events
        self.window = window_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None if it may now."""
        events = self._recent(key)
        if events is None or len(events) < self.max_events:
            return None
        return max(1, math.ceil(events[0] + self.window - self.clock()))

    def record(self, key: str) -> None:
        if key not in self._events and len(self._events) >= self.max_keys:
            self._prune()
        self._events.setdefault(key, deque(maxlen=self.max_events)).append(self.clock())

    def reset(self, key: str) -> None:
        self._events.pop(key, None)

    def _recent(self, key: str) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        horizon = self.clock() - self.window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def _prune(self) -> None:
        for key in list(self._events):
            self._recent(key)
        # Still full of live entries: forget the oldest half rather than grow.
        if len(self._events) >= self.max_keys:
            oldest = sorted(self._events, key=lambda k: self._events[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._events[key]

"""One line of progress on stderr: phase, count/total, rate, ETA, redrawn in place with `\r`.

The idea: a long bulk load should say what it is doing and when it will end, without
a dependency and without flooding a log: the line is redrawn at most a few times per
second, and each phase ends with its own final line (kept, with its duration).

Cost: a clock read per `advance()` call; callers advance in batches, not per row.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

REDRAW_SECONDS = 0.2


class Progress:
    def __init__(self, stream: TextIO | None = sys.stderr) -> None:
        self.stream = stream  # None: silent (tests, library use)
        self.phase, self.total, self.done = "", 0, 0
        self._started = self._drawn = 0.0
        self.seconds: dict[str, float] = {}  # how long each finished phase took

    def start(self, phase: str, total: int) -> None:
        self.phase, self.total, self.done = phase, max(total, 0), 0
        self._started = self._drawn = time.perf_counter()
        self._draw(self._started)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self._drawn >= REDRAW_SECONDS:
            self._draw(now)

    def finish(self) -> None:
        now = time.perf_counter()
        self.done = max(self.done, self.total)
        self.seconds[self.phase] = now - self._started
        self._draw(now, end="\n")

    def _draw(self, now: float, end: str = "") -> None:
        self._drawn = now
        if self.stream is None:
            return
        elapsed = now - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = f"{self.phase:<10} {self.done:>11,}/{self.total:,}  {rate:>10,.0f}/s"
        if end:
            line += f"  {elapsed:6.1f} s"
        elif rate > 0:
            line += f"  ETA {(self.total - self.done) / rate:5.0f} s"
        self.stream.write(f"\r{line:<72}{end}")
        self.stream.flush()

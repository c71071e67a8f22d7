"""`python -m instamini bench`: measure a real server on a fresh data directory.

Each scenario returns a JSON report; the command prints it and, with --out,
writes it to a file. Figures and the commands that produced them are recorded in
docs/benchmarks.md. On a 2-core machine, compare ratios within one run.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from ..config import Config


def run_bench(config: Config, *, scenario: str, seconds: float, out: str | None, options: dict | None = None) -> int:
    """`options` are the scenario's own keyword arguments (the feed and realtime scenarios have some)."""
    from . import feed, foundation, media, realtime

    scenarios = {"foundation": foundation.run, "media": media.run, "feed": feed.run, "realtime": realtime.run}
    report = scenarios[scenario](seconds, **(options or {}))
    text = msgspec.json.format(msgspec.json.encode(report), indent=2)
    print(text.decode())
    if out:
        Path(out).write_bytes(text + b"\n")
    return 0

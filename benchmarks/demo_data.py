"""What the benchmark scripts share: seeding a demo network, opening the app on it, picking readers.

The scripts run the app in-process (no HTTP) to time one service at a time; the
config turns every background loop off so that nothing runs between measurements.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from instamini.app import create_app
from instamini.config import decode_config

TOML = """[server]
data_dir = "{data}"
[plugins]
dirs = []
[feed]
background_jobs = false
[media]
background_jobs = false
[ranker]
background_jobs = false
"""


def seed_demo(data: Path, users: int, *extra: str) -> None:
    """`python -m instamini demo` into `data` (8 shards, the repository's defaults)."""
    command = [sys.executable, "-m", "instamini", "demo", "--users", str(users), "--data-dir", str(data), *extra]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def open_app(data: Path):
    """The app on `data`; use as `async with app.lifespan(): ... app.state ...`."""
    return create_app(decode_config(TOML.format(data=data)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(times_ms: list[float]) -> dict:
    return {
        "n": len(times_ms),
        "p50_ms": round(percentile(times_ms, 0.5), 3),
        "p99_ms": round(percentile(times_ms, 0.99), 3),
        "max_ms": round(max(times_ms), 3),
    }


async def active_viewers(state, how_many: int, seed: int, min_followees: int = 20) -> list[int]:
    """People who follow at least `min_followees` others, so their feed has something to rank."""
    found = []
    for shard in range(state.meta.shard_count):
        rows = await state.meta.read(
            shard,
            "SELECT src FROM edges WHERE kind = 'following' GROUP BY src HAVING COUNT(*) >= ? LIMIT ?",
            (min_followees, how_many),
        )
        found += [row[0] for row in rows]
    random.Random(seed).shuffle(found)
    return found[:how_many]

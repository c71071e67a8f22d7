"""Search latency across every shard, in-process, on a seeded demo network.

Seeds `python -m instamini demo --users N` in a temp dir (8 shards with the repository's
config), opens the app on it and times `SearchService.search` (people and hashtags: one
FTS5 query per shard per kind, gathered, then ranked) for prefixes of real usernames,
display-name words and hashtags, as a person types them (1 to 6 characters), logged in.

    python benchmarks/search_latency.py [--users 2000] [--queries 2000]

Cost: seeding, then the queries one after another (latency, not throughput).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instamini.app import create_app
from instamini.config import decode_config

TOML = '[server]\ndata_dir = "{data}"\n[plugins]\ndirs = []\n[feed]\nbackground_jobs = false\n[media]\nbackground_jobs = false\n'


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(data: Path, tokens: dict[str, str], queries: int) -> dict:
    app = create_app(decode_config(TOML.format(data=data)))
    async with app.lifespan():
        state = app.state
        viewer = await state.accounts.authenticate(next(iter(tokens.values())))
        rng = random.Random(1)
        words = list(tokens) + ["cat", "sunset", "travel", "food", "beach", "celeb"]
        typed = [w[: rng.randint(1, min(6, len(w)))] for w in rng.choices(words, k=queries)]
        for text in typed[:100]:  # warm the caches and SQLite's pages
            await state.search.search(viewer, text)
        times = []
        for text in typed:
            started = time.perf_counter()
            await state.search.search(viewer, text)
            times.append((time.perf_counter() - started) * 1000)
    return {
        "queries": queries,
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
        "max_ms": round(max(times), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=2000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, tokens_file = Path(tmp) / "data", Path(tmp) / "tokens.json"
        seed = [sys.executable, "-m", "instamini", "demo", "--users", str(options.users), "--data-dir", str(data), "--tokens-out", str(tokens_file)]
        subprocess.run(seed, check=True, stdout=subprocess.DEVNULL)
        layout = json.loads((data / "meta" / "layout.json").read_text())
        report = asyncio.run(measure(data, json.loads(tokens_file.read_text()), options.queries))
        report["shards"] = layout["shards"]
        print(report)


if __name__ == "__main__":
    main()

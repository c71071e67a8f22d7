"""Discovery latencies on a demo network: Explore, search across every shard, and what ranking costs a feed page.

Seeds `python -m instamini demo --users N` in a temp dir (8 shards, the repository's
defaults; or uses --data DIR, which it writes impressions to), opens the app
in-process and times, one request after another, for readers who follow at least
20 people:
- Explore: `ExploreService.page` (candidate scatters, hydration, ranking, logging);
- search: `SearchService.search` for prefixes of real usernames and hashtags, 1 to 6
  characters, as a person types them (one FTS5 query per shard per kind, gathered);
- the home feed: a ranked page and a chronological page (`FeedService.page`, 20
  posts), and the ranker alone on a page's candidates (the 60 newest), the learned
  ranker beside the recency formula.
Each is warmed first (caches, timelines, SQLite pages), so figures are warm.

    python benchmarks/discovery_latency.py [--users 100000] [--readers 300] [--queries 2000]

Cost: seeding (about 100 s for 100,000 people), then a few thousand calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from instamini.feed.ranker import RecencyRanker

from demo_data import active_viewers, open_app, seed_demo, summary  # benchmarks/ is the script's folder


async def timed(call) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def explore(state, readers: list[int]) -> dict:
    for reader in readers[:30]:
        await state.explore.page(reader, None, 20)
    return summary([await timed(lambda r=r: state.explore.page(r, None, 20)) for r in readers])


async def search(state, readers: list[int], queries: int) -> dict:
    names = await state.meta.read(0, "SELECT username FROM users ORDER BY id LIMIT 2000")
    tags = await state.meta.read(0, "SELECT DISTINCT tag FROM post_tags LIMIT 200")
    words = [row[0] for row in names] + [row[0] for row in tags]
    rng = random.Random(1)
    typed = [w[: rng.randint(1, min(6, len(w)))] for w in rng.choices(words, k=queries)]
    for text in typed[:100]:
        await state.search.search(readers[0], text)
    times = [await timed(lambda t=t, r=rng.choice(readers): state.search.search(r, t)) for t in typed]
    return summary(times)


async def feed_pages(state, readers: list[int]) -> dict:
    feed = state.feed

    def page(reader: int, order: str):
        return lambda: feed.page(reader, reels=False, order=order, cursor=None, limit=20)

    for reader in readers:  # builds each timeline and fills the caches (both orders show different posts)
        await page(reader, "ranked")()
        await page(reader, "chronological")()
    report = {order: summary([await timed(page(r, order)) for r in readers]) for order in ("ranked", "chronological")}
    recency, ranking, candidates_seen = RecencyRanker(), {"learned": [], "recency": []}, []
    for reader in readers:
        candidates = await feed.candidates(reader)
        candidates_seen.append(len(candidates))
        for name, ranker in (("learned", state.ranker), ("recency", recency)):
            started = time.perf_counter()
            ranker.rank(reader, candidates)
            ranking[name].append((time.perf_counter() - started) * 1000)
    report["rank_only"] = {name: summary(times) for name, times in ranking.items()}
    report["candidates_per_page_mean"] = round(sum(candidates_seen) / len(candidates_seen), 1)
    return report


async def measure(data: Path, readers: int, queries: int) -> dict:
    app = open_app(data)
    async with app.lifespan():
        state = app.state
        chosen = await active_viewers(state, readers, seed=3)
        return {
            "readers": len(chosen),
            "shards": state.meta.shard_count,
            "explore": await explore(state, chosen),
            "search": await search(state, chosen, queries),
            "feed": await feed_pages(state, chosen),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--data", type=Path, help="an already seeded data directory (it gets impressions logged)")
    options = parser.parse_args()
    if options.data:
        print(json.dumps(asyncio.run(measure(options.data, options.readers, options.queries)), indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        seed_demo(data, options.users)
        print(json.dumps(asyncio.run(measure(data, options.readers, options.queries)), indent=2))


if __name__ == "__main__":
    main()

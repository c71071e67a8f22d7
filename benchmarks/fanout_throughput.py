"""Fan-out throughput in-process: how many timeline deliveries per second one core makes.

One author with F followers (all with built timelines, so every delivery is real work)
writes P posts under the push strategy; then the fan-out worker delivers them all and
the script reports deliveries per second, and what that means in posts per second at
100 followers each (the issue's figure: 500 posts/s with 100 followers).

    python benchmarks/fanout_throughput.py [--followers 2000] [--posts 50]

Cost: registering the followers (cheap argon2 settings) and the follows dominate the
set-up; the measured part is the worker alone, with LMDB and SQLite on a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from instamini.app import create_app
from instamini.config import decode_config
from instamini.ids import shard_of
from instamini.media import records

TOML = """
[server]
data_dir = "{data}"
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
[feed]
strategy = "push"
background_jobs = false
[plugins]
dirs = []
"""


async def ready_media(state, owner_id: int) -> int:
    media_id = state.ids.next_id(shard_of(owner_id))

    def insert(conn) -> None:
        records.insert_upload(conn, media_id, owner_id, "image", "", "benchmark", 1, 0)
        records.finish_ready(conn, media_id, width=1, height=1, duration_ms=None, placeholder=None, variants=[])

    await state.meta.write(shard_of(owner_id), insert)
    return media_id


async def measure(followers: int, posts: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(decode_config(TOML.format(data=Path(tmp) / "data")))
        async with app.lifespan():
            state = app.state
            author, _ = await state.accounts.register("author", "benchmark-password")
            fans = await asyncio.gather(*(state.accounts.register(f"fan{i}", "benchmark-password") for i in range(followers)))
            await asyncio.gather(*(state.graph.follow(fan.id, "author") for fan, _ in fans))
            for fan, _ in fans:  # each fan reads their feed once: their timeline is built and active
                await state.feed.page(fan.id, reels=False, order="chronological", cursor=None, limit=10)
            for _ in range(posts):
                await state.posts.create(author.id, "benchmark", [await ready_media(state, author.id)])
            started = time.perf_counter()
            await state.feed.fanout.run_until_idle()
            elapsed = time.perf_counter() - started
            delivered = state.feed.fanout.delivered
    per_second = delivered / elapsed
    return {
        "followers": followers,
        "posts": posts,
        "deliveries": delivered,
        "seconds": round(elapsed, 3),
        "deliveries_per_second": round(per_second),
        "posts_per_second_at_100_followers": round(per_second / 100),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--followers", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=50)
    options = parser.parse_args()
    print(asyncio.run(measure(options.followers, options.posts)))


if __name__ == "__main__":
    main()

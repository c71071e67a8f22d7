"""Where the time of one home-feed read goes, step by step, in-process (no sockets).

Seeds a demo network (`python -m instamini demo`) in a temp dir, opens the app on it,
warms one reader's feed, then times each step of a warm page N times: the session
lookup, collecting the page's post ids (timeline merge), loading the posts, their
authors, counters and the reader's like/save flags, the whole service call, the JSON
encoding, and the full ASGI request (Litestar's routing, middleware, parameters)
beside `/healthz` through the same ASGI call.

    python benchmarks/feed_read_breakdown.py [--users 2000] [--n 3000]

Cost: the seeding (a few seconds for 2,000 users), then a few seconds of timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instamini.app import create_app
from instamini.config import decode_config
from instamini.feed.timelines import NEWEST
from instamini.posts.views import post_list

TOML = '[server]\ndata_dir = "{data}"\n[plugins]\ndirs = []\n[feed]\nbackground_jobs = false\n'


async def asgi_get(app, path: str, query: str, headers: dict[str, str]) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]


async def timed(name: str, step, n: int) -> None:
    for _ in range(100):
        await step()
    started = time.perf_counter()
    for _ in range(n):
        await step()
    print(f"{name:34s} {(time.perf_counter() - started) / n * 1e6:8.1f} us")


async def breakdown(data: Path, tokens: dict[str, str], n: int) -> None:
    app = create_app(decode_config(TOML.format(data=data)))
    async with app.lifespan():
        state = app.state
        reader, token = next(iter(tokens.items()))
        viewer = await state.accounts.authenticate(token)
        page = await state.feed.page(viewer, reels=False, order="chronological", cursor=None, limit=10)
        ids = [view.record.id for view in page.posts]
        authors = {view.record.author_id for view in page.posts}
        headers = {"authorization": f"Bearer {token}"}
        print(f"reader {reader}: {len(ids)} posts on the first page")

        async def fetch_ids():
            fetch, _, _ = await state.feed._fetcher(viewer, False)
            await fetch(NEWEST, 11)

        async def encode():
            post_list(page)

        steps = [
            ("session lookup", lambda: state.accounts.authenticate(token)),
            ("page's post ids (timeline merge)", fetch_ids),
            ("posts (cards)", lambda: state.posts.load_cards(ids)),
            ("authors", lambda: state.accounts.get_users(authors)),
            ("counters", lambda: state.counters.get_many(ids)),
            ("like/save flags", lambda: state.posts.flags.of(viewer, ids)),
            ("hydrate (the four above)", lambda: state.posts.hydrate(viewer, ids, known_visible=authors)),
            ("feed.page (service, whole)", lambda: state.feed.page(viewer, reels=False, order="chronological", cursor=None, limit=10)),
            ("JSON encoding of the page", encode),
            ("ASGI GET /healthz", lambda: asgi_get(app, "/healthz", "", {})),
            ("ASGI GET /api/v1/feed (chronological)", lambda: asgi_get(app, "/api/v1/feed", "order=chronological&limit=10", headers)),
            ("ASGI GET /api/v1/feed (ranked)", lambda: asgi_get(app, "/api/v1/feed", "limit=10", headers)),
        ]
        for name, step in steps:
            await timed(name, step, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--n", type=int, default=3000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, tokens_file = Path(tmp) / "data", Path(tmp) / "tokens.json"
        seed = [sys.executable, "-m", "instamini", "demo", "--users", str(options.users), "--data-dir", str(data), "--tokens-out", str(tokens_file)]
        subprocess.run(seed, check=True, stdout=subprocess.DEVNULL)
        asyncio.run(breakdown(data, json.loads(tokens_file.read_text()), options.n))


if __name__ == "__main__":
    main()

"""Choosing the ranker: a plugin's `instamini_ranker`, or `[ranker] model = "recency"`."""

from __future__ import annotations

import msgspec
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from tests.accounts.helpers import state_of
from tests.conftest import register
from tests.feed.helpers import fan_out, follow
from tests.posts.helpers import make_post
from tests.test_plugins import _with_plugins

OLDEST_FIRST = '''
from instamini.feed.ranker import Scored
from instamini.hookspecs import hookimpl


class OldestFirst:
    name = "oldest-first"

    def __init__(self, default):
        self.default = default

    def rank(self, viewer_id, candidates):
        return [Scored(c.post_id, -i, {"index": i}) for i, c in enumerate(sorted(candidates, key=lambda c: c.post_id))]


@hookimpl
def instamini_ranker(config, default):
    assert default.name == "learned"  # the built-in one, so a plugin may wrap it
    return OldestFirst(default)
'''


async def three_posts(client):
    alice, bob = await register(client, "alice"), await register(client, "bob")
    await follow(client, alice, bob)
    posts = [await make_post(client, bob) for _ in range(3)]
    fan_out(client)
    return alice, [p["id"] for p in posts]


async def ranked_feed(client, user) -> list[str]:
    response = await client.get("/api/v1/feed", headers=user.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_a_plugin_replaces_the_ranker(tmp_path):
    app = create_app(_with_plugins(tmp_path, {"oldest.py": OLDEST_FIRST}))
    async with AsyncTestClient(app) as client:
        alice, oldest_to_newest = await three_posts(client)
        assert await ranked_feed(client, alice) == oldest_to_newest
        why = (await client.get(f"/api/v1/feed/explain/{oldest_to_newest[0]}", headers=alice.headers)).json()
        assert why["ranker"] == "oldest-first" and why["position"] == 0 and why["features"]["index"] == 0
        # Impressions are still logged, so the built-in model keeps learning meanwhile.
        assert len(state_of(client).impressions.pending) == 3


async def test_the_recency_formula_by_config(tmp_path):
    config = _with_plugins(tmp_path, {})
    config = msgspec.structs.replace(config, ranker=msgspec.structs.replace(config.ranker, model="recency"))
    async with AsyncTestClient(create_app(config)) as client:
        alice, oldest_to_newest = await three_posts(client)
        assert await ranked_feed(client, alice) == oldest_to_newest[::-1]
        why = (await client.get(f"/api/v1/feed/explain/{oldest_to_newest[0]}", headers=alice.headers)).json()
        assert why["ranker"] == "recency" and set(why["contributions"]) == {"base", "likes", "comments"}

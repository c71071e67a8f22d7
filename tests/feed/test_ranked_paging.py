"""Scrolling a ranked feed: the order is kept from the first page, so likes and
impressions between pages (which move the ranker's inputs) neither skip nor repeat."""

from __future__ import annotations

from tests.accounts.helpers import in_app, state_of
from tests.conftest import register
from tests.feed.helpers import fan_out, follow
from tests.posts.helpers import POSTS, make_post


async def page(client, user, cursor=None, limit=2) -> dict:
    params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    response = await client.get("/api/v1/feed", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_likes_between_pages_neither_skip_nor_repeat(client):
    alice = await register(client, "alice")
    authors = [await register(client, name) for name in ("bob", "carol", "dave")]
    posts = []
    for author in authors:
        await follow(client, alice, author)
        posts += [await make_post(client, author) for _ in range(2)]
    fan_out(client)
    seen, cursor = [], None
    while True:
        body = await page(client, alice, cursor)
        seen += [item["id"] for item in body["items"]]
        if cursor is None:
            # Liking bob's older post (from his profile, say) lifts bob, the oldest author,
            # to the top if the feed were ranked again now: page 2 would repeat page 1.
            await client.post(f"{POSTS}/{posts[0]['id']}/like", headers=alice.headers)
            await client.post(f"{POSTS}/{posts[1]['id']}/save", headers=alice.headers)
            in_app(client, state_of(client).ranker_settle)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(p["id"] for p in posts) and len(seen) == len(set(seen))


async def test_a_lost_snapshot_ranks_afresh(client):
    alice, bob = await register(client, "alice"), await register(client, "bob")
    await follow(client, alice, bob)
    posts = [await make_post(client, bob) for _ in range(3)]
    fan_out(client)
    first = await page(client, alice)
    state_of(client).cache.delete("ranked_pages", (int(alice.id)).to_bytes(8, "big") + b"\x00\x04feed")
    rest = await page(client, alice, first["next_cursor"])
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {item["id"] for item in first["items"] + rest["items"]} <= {p["id"] for p in posts}

"""Reading feeds: ranked and chronological orders, the reels feed, cursors, and what /metrics shows."""

from __future__ import annotations

from tests.accounts.helpers import state_of
from tests.feed.helpers import fan_out, feed_ids, follow
from tests.posts.helpers import make_post


async def test_ranked_pages_hold_the_same_posts_as_chronological(client, alice, bob):
    await follow(client, bob, alice)
    await feed_ids(client, bob)
    posts = [await make_post(client, alice) for _ in range(5)]
    fan_out(client)
    liked = posts[0]["id"]  # the oldest, but liked and commented
    await client.post(f"/api/v1/posts/{liked}/like", headers=bob.headers)
    await client.post(f"/api/v1/posts/{liked}/comments", json={"text": "wow"}, headers=bob.headers)
    ranked = await feed_ids(client, bob, order="ranked", limit=2)
    chronological = await feed_ids(client, bob, order="chronological", limit=2)
    assert sorted(ranked) == sorted(chronological) and len(ranked) == 5
    assert chronological == [p["id"] for p in reversed(posts)]
    assert ranked[0] == liked  # engagement outweighs a few seconds of age


async def test_the_default_order_is_ranked(client, alice):
    await make_post(client, alice)
    response = await client.get("/api/v1/feed", headers=alice.headers)
    assert response.status_code == 200 and len(response.json()["items"]) == 1


async def test_the_reels_feed_holds_only_reels(client, alice, bob):
    await follow(client, bob, alice)
    await feed_ids(client, bob, path="/api/v1/reels")
    photo = await make_post(client, alice)
    reel = await make_post(client, alice, kind="reel", media="video")
    fan_out(client)
    assert await feed_ids(client, bob, path="/api/v1/reels") == [reel["id"]]
    assert await feed_ids(client, bob) == [reel["id"], photo["id"]]


async def test_bad_cursors_orders_and_limits_are_400_and_a_login_is_needed(client, alice):
    for params in ({"cursor": "x1"}, {"order": "random"}, {"limit": 0}, {"limit": 101}, {"order": "ranked", "cursor": "123"}):
        response = await client.get("/api/v1/feed", params=params, headers=alice.headers)
        assert response.status_code == 400, params
    assert (await client.get("/api/v1/feed")).status_code == 401
    assert (await client.get("/api/v1/reels")).status_code == 401


async def test_metrics_show_fan_out_lag_depth_and_timelines(client, alice, bob):
    await follow(client, bob, alice)
    await feed_ids(client, bob)
    await make_post(client, alice)
    fan_out(client)
    text = (await client.get("/metrics")).text
    assert "instamini_feed_fanout_lag_seconds_count 1.0" in text
    assert 'instamini_feed_fanout_lag_seconds_bucket{le="+Inf"} 1.0' in text
    assert "instamini_feed_outbox_depth" in text and "instamini_feed_timelines 1.0" in text
    assert "instamini_feed_deliveries_total 1.0" in text
    assert state_of(client).feed.fanout.lag.observations == 1


async def test_a_warm_feed_page_makes_no_sqlite_call(client, alice, bob, monkeypatch):
    await follow(client, bob, alice)
    await feed_ids(client, bob)
    await make_post(client, alice)
    fan_out(client)
    await feed_ids(client, bob)  # warms every cache the page needs
    meta = state_of(client).meta
    calls = []

    async def counting_read(*args, **kwargs):
        calls.append(args)
        return await original(*args, **kwargs)

    original = meta.read
    monkeypatch.setattr(meta, "read", counting_read)
    assert len(await feed_ids(client, bob)) == 1
    assert calls == []

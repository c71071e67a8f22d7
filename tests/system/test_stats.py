"""GET /api/v1/system/stats (the /system page's numbers) and the development-mode strategy switch."""

from __future__ import annotations

import msgspec
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.system.stats import lag_percentiles
from tests.accounts.helpers import state_of
from tests.conftest import api_client_without_cookies, register
from tests.feed.helpers import fan_out, feed_ids, follow
from tests.posts.helpers import make_post

STATS = "/api/v1/system/stats"
SWITCH = "/api/v1/system/feed-strategy"


def debug_app(config, debug: bool = True):
    return create_app(msgspec.structs.replace(config, server=msgspec.structs.replace(config.server, debug=debug)))


async def stats(client) -> dict:
    state_of(client).system_stats.forget_counts()  # count the rows now, not within the last 5 s
    response = await client.get(STATS)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_numbers_move_after_some_traffic(client):
    before = await stats(client)
    assert {"system", "accounts", "feed", "web"} <= set(before["modules"])
    assert len(before["shards"]) == 4 and all(sum(v for k, v in s.items() if k != "shard") == 0 for s in before["shards"])
    assert before["feed"]["strategy"] == "hybrid" and before["feed"]["fanout_lag"]["p50"] is None
    assert before["realtime"] == {"sockets": 0, "users_online": 0}
    assert before["ranker"] is not None and "bias" in before["ranker"]["weights"]

    alice, bob = await register(client, "alice"), await register(client, "bob")
    await feed_ids(client, alice)  # alice's timeline exists, so fan-out delivers to it
    await follow(client, alice, bob)
    post = await make_post(client, bob, "hello")
    await client.post(f"/api/v1/posts/{post['id']}/like", headers=alice.headers)
    await client.post(f"/api/v1/posts/{post['id']}/comments", headers=alice.headers, json={"text": "nice"})
    fan_out(client)
    await feed_ids(client, alice)
    with await client.websocket_connect("/ws", headers=alice.headers) as socket:
        socket.send_text('{"type": "ping"}')
        socket.receive_json()
        after = await stats(client)

    assert after["requests"] > before["requests"] + 8
    assert after["now"] >= before["now"] and after["uptime_seconds"] >= before["uptime_seconds"]
    totals = {name: sum(shard[name] for shard in after["shards"]) for name in ("users", "posts", "likes", "comments")}
    assert totals == {"users": 2, "posts": 1, "likes": 1, "comments": 1}
    assert sum(shard["edges"] for shard in after["shards"]) >= 1
    assert after["cache"]["hits"] > before["cache"]["hits"] and after["cache"]["entries"] > 0
    assert 0 < after["cache"]["hit_ratio"] <= 1
    assert after["feed"]["delivered"] >= 1 and after["feed"]["fanout_lag"]["count"] >= 1
    assert after["feed"]["fanout_lag"]["p50"] is not None
    assert after["realtime"] == {"sockets": 1, "users_online": 1}
    assert after["meta"]["commits"] > before["meta"]["commits"]
    assert set(after["media"]) == {"queued", "processed", "failed", "workers", "busy"}


async def test_the_row_counts_are_kept_for_five_seconds(client):
    await stats(client)
    await register(client, "alice")
    cached = (await client.get(STATS)).json()
    assert sum(shard["users"] for shard in cached["shards"]) == 0  # counted before alice, not yet again
    assert sum(shard["users"] for shard in (await stats(client))["shards"]) == 1


async def test_anyone_may_read_the_stats_even_with_a_stale_cookie(client):
    response = await client.get(STATS, headers={"Cookie": "instamini_session=stale"})
    assert response.status_code == 200


def test_lag_percentiles_interpolate_within_buckets():
    assert lag_percentiles([0] * 13) == {"count": 0, "p50": None, "p90": None, "p95": None, "p99": None}
    figures = lag_percentiles([10] + [0] * 12)  # all ten below 5 ms
    assert figures["count"] == 10 and 0 < figures["p50"] <= figures["p99"] <= 0.005
    assert lag_percentiles([0] * 12 + [4])["p99"] == 30.0  # beyond the last bound: the last bound


async def test_the_strategy_switch_is_404_outside_development_mode(client):
    alice = await register(client, "alice")
    response = await client.post(SWITCH, json={"strategy": "push"}, headers=alice.headers)
    assert response.status_code == 404, response.text
    assert state_of(client).feed.strategy == "hybrid"


async def test_the_strategy_switch_works_in_development_mode_and_feeds_stay_right(config):
    async with AsyncTestClient(debug_app(config)) as client:
        api_client_without_cookies(client)
        assert (await client.post(SWITCH, json={"strategy": "push"})).status_code == 401
        alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
        await feed_ids(client, alice)
        await follow(client, alice, bob)
        await follow(client, alice, carol)
        first = await make_post(client, bob, "under hybrid")
        fan_out(client)
        assert await feed_ids(client, alice) == [first["id"]]

        bad = await client.post(SWITCH, json={"strategy": "sideways"}, headers=alice.headers)
        assert bad.status_code == 400

        for strategy in ("pull", "push", "hybrid", "push"):
            response = await client.post(SWITCH, json={"strategy": strategy}, headers=alice.headers)
            assert response.status_code == 200, response.text
            assert response.json()["strategy"] == strategy
            assert (await stats(client))["feed"]["strategy"] == strategy
            post = await make_post(client, carol, f"under {strategy}")
            fan_out(client)
            ids = await feed_ids(client, alice)
            assert ids[0] == post["id"] and first["id"] in ids, (strategy, ids)
        assert len(await feed_ids(client, alice)) == 5
        assert (await stats(client))["feed"]["outbox_depth"] == 0

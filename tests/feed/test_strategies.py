"""Push, pull and hybrid give the same feeds for the same data; they differ in where the work is."""

from __future__ import annotations

import random

from instamini.ids import shard_of
from tests.accounts.helpers import in_app, read, state_of
from tests.conftest import register
from tests.feed.helpers import app_client, fan_out, feed_config, feed_ids, follow
from tests.posts.helpers import make_post

NAMES = ["star", "ann", "ben", "cat", "dan", "eve", "fay"]


async def build_network(client, rng: random.Random) -> dict:
    users = {name: await register(client, name) for name in NAMES}
    for name, user in users.items():
        await feed_ids(client, user)  # everyone has read their feed: timelines exist
        if name != "star":
            await follow(client, user, users["star"])  # star: 6 followers, a celebrity at threshold 3
        for other in rng.sample([n for n in NAMES if n not in (name, "star")], 2):
            await follow(client, user, users[other])
    for _ in range(3):
        for name in rng.sample(NAMES, len(NAMES)):
            await make_post(client, users[name], f"by {name}", kind="post")
    return users


async def feeds(client, users) -> dict[str, list[str]]:
    return {name: await feed_ids(client, user) for name, user in users.items()}


async def test_all_three_strategies_agree_on_the_same_data(tmp_path):
    data = tmp_path / "data"
    results = {}
    async with app_client(feed_config(data, strategy="push", celebrity_threshold=3)) as client:
        users = await build_network(client, random.Random(3))
        fan_out(client)
        results["push"] = await feeds(client, users)
    for strategy in ("pull", "hybrid", "push"):  # the same data directory, the server restarted
        async with app_client(feed_config(data, strategy=strategy, celebrity_threshold=3)) as client:
            fan_out(client)
            results[strategy] = await feeds(client, users)
    assert results["push"] == results["pull"] == results["hybrid"]
    assert all(len(ids) >= 3 for ids in results["push"].values())


async def celebrity_with_fans(client):
    """star and three fans who have read their feeds; above a threshold of 2, star is a celebrity."""
    star, *fans = [await register(client, name) for name in ("star", "a", "b", "c")]
    for fan in fans:
        await follow(client, fan, star)
        await feed_ids(client, fan)
    in_app(client, state_of(client).feed.celebrities.settle)
    return star, fans


async def test_hybrid_writes_no_fan_out_for_a_celebrity_and_still_shows_the_post(tmp_path):
    async with app_client(feed_config(tmp_path / "data", strategy="hybrid", celebrity_threshold=2)) as client:
        star, fans = await celebrity_with_fans(client)
        assert int(star.id) in state_of(client).feed.celebrities
        post = await make_post(client, star)
        assert await read(client, shard_of(int(star.id)), "SELECT * FROM feed_outbox") == []
        assert fan_out(client) == 0
        for fan in fans:
            assert await feed_ids(client, fan) == [post["id"]]
        assert state_of(client).feed.fanout.delivered == 0


async def test_pull_writes_no_fan_out_at_all(tmp_path):
    async with app_client(feed_config(tmp_path / "data", strategy="pull")) as client:
        alice, bob = await register(client, "alice"), await register(client, "bob")
        await follow(client, bob, alice)
        post = await make_post(client, alice)
        assert await read(client, shard_of(int(alice.id)), "SELECT * FROM feed_outbox") == []
        assert await feed_ids(client, bob) == [post["id"]]


async def test_a_bad_strategy_name_is_refused_at_start():
    import pytest

    from instamini.config import ConfigError, decode_config

    with pytest.raises(ConfigError, match="strategy"):
        decode_config('[feed]\nstrategy = "broadcast"\n')


async def test_an_author_who_drops_below_the_threshold_is_pushed_again_without_losing_posts(tmp_path):
    async with app_client(feed_config(tmp_path / "data", strategy="hybrid", celebrity_threshold=2)) as client:
        star, fans = await celebrity_with_fans(client)
        pulled = await make_post(client, star)  # not pushed: star is a celebrity now
        for fan in fans[1:]:  # two unfollow: 1 follower left, below 90% of the threshold
            assert (await client.delete("/api/v1/users/star/follow", headers=fan.headers)).status_code == 200
        in_app(client, state_of(client).feed.celebrities.settle)
        assert int(star.id) not in state_of(client).feed.celebrities
        pushed = await make_post(client, star)
        fan_out(client)
        assert await feed_ids(client, fans[0]) == [pushed["id"], pulled["id"]]

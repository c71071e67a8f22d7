"""Fan-out on write: the outbox, delivery, idempotence, bounds, and keeping timelines right."""

from __future__ import annotations

from instamini.ids import shard_of
from tests.accounts.helpers import in_app, read, state_of, sync_in_app, write
from tests.conftest import register
from tests.feed.helpers import app_client, fan_out, feed_config, feed_ids, follow
from tests.posts.helpers import make_post


async def outbox(client, author) -> list:
    return await read(client, shard_of(int(author.id)), "SELECT post_id, progress FROM feed_outbox ORDER BY post_id")


async def test_a_post_is_queued_with_its_commit_and_delivered_by_the_worker(client, alice, bob):
    await follow(client, bob, alice)
    await feed_ids(client, bob)  # bob has read his feed: his timeline is built, so it gets deliveries
    post = await make_post(client, alice, "hello")
    assert [row[0] for row in await outbox(client, alice)] == [int(post["id"])]
    assert fan_out(client) >= 1
    assert await outbox(client, alice) == []
    assert await feed_ids(client, bob) == [post["id"]]
    entries = sync_in_app(client, state_of(client).feed.home.page, int(bob.id), 1 << 62, 10)
    assert [entry.post_id for entry in entries] == [int(post["id"])]  # it came from bob's timeline


async def test_your_own_posts_are_in_your_feed_at_once_and_strangers_never(client, alice, bob, carol):
    await follow(client, bob, alice)
    mine = await make_post(client, bob)
    await make_post(client, carol)  # bob does not follow carol
    followed = await make_post(client, alice)
    fan_out(client)
    assert await feed_ids(client, bob) == [followed["id"], mine["id"]]


async def test_unfollow_and_block_hide_the_author_at_once(client, alice, bob, carol):
    await follow(client, bob, alice)
    await follow(client, bob, carol)
    await feed_ids(client, bob)
    a, c = await make_post(client, alice), await make_post(client, carol)
    fan_out(client)
    assert set(await feed_ids(client, bob)) == {a["id"], c["id"]}
    assert (await client.delete("/api/v1/users/alice/follow", headers=bob.headers)).status_code == 200
    assert await feed_ids(client, bob) == [c["id"]]
    assert (await client.post("/api/v1/users/bob/block", headers=carol.headers)).status_code == 200
    assert await feed_ids(client, bob) == []
    remaining = sync_in_app(client, state_of(client).feed.home.page, int(bob.id), 1 << 62, 10)
    assert remaining == []  # and the cleanup took their entries out of bob's timeline


async def test_a_deleted_post_leaves_every_feed(client, alice, bob):
    await follow(client, bob, alice)
    await feed_ids(client, bob)
    kept, gone = await make_post(client, alice), await make_post(client, alice)
    fan_out(client)
    assert (await client.delete(f"/api/v1/posts/{gone['id']}", headers=alice.headers)).status_code == 204
    assert await feed_ids(client, bob) == [kept["id"]]
    assert await feed_ids(client, alice) == [kept["id"]]
    entries = sync_in_app(client, state_of(client).feed.home.page, int(bob.id), 1 << 62, 10)
    assert [entry.post_id for entry in entries] == [int(kept["id"])]


async def test_a_new_follow_backfills_the_followees_latest_posts(client, alice, bob):
    older = [await make_post(client, alice) for _ in range(3)]
    await feed_ids(client, bob)  # built before the follow: the backfill must fill it
    await follow(client, bob, alice)
    assert await feed_ids(client, bob) == [post["id"] for post in reversed(older)]
    entries = sync_in_app(client, state_of(client).feed.home.page, int(bob.id), 1 << 62, 10)
    assert len(entries) == 3


async def test_redelivery_is_idempotent(client, alice, bob):
    await follow(client, bob, alice)
    await feed_ids(client, bob)
    post = await make_post(client, alice)
    fan_out(client)
    # As if the worker had stopped before deleting the row: deliver the same post again.
    await write(client, shard_of(int(alice.id)), lambda conn: conn.execute(
        "INSERT INTO feed_outbox (post_id, author_id, kind, created_ms) VALUES (?, ?, 'post', 0)", (int(post["id"]), int(alice.id))
    ))
    fan_out(client)
    assert await feed_ids(client, bob) == [post["id"]]


async def test_timelines_are_bounded(tmp_path):
    async with app_client(feed_config(tmp_path / "data", timeline_size=10)) as client:
        alice, bob = await register(client, "alice"), await register(client, "bob")
        await follow(client, bob, alice)
        await feed_ids(client, bob)
        posts = [await make_post(client, alice) for _ in range(25)]
        fan_out(client)
        entries = sync_in_app(client, state_of(client).feed.home.page, int(bob.id), 1 << 62, 100)
        assert 10 <= len(entries) <= 11  # trimmed back to the bound once 10% over
        assert [e.post_id for e in entries[:10]] == [int(p["id"]) for p in reversed(posts)][:10]


async def test_inactive_followers_are_skipped_and_rebuilt_when_they_return(client, alice, bob):
    await follow(client, bob, alice)
    await feed_ids(client, bob)
    feed = state_of(client).feed
    state = sync_in_app(client, feed.home.state, int(bob.id))
    state.seen_ms -= (client.app.state.config.feed.inactive_days + 1) * 86_400_000
    sync_in_app(client, feed.home.states.put, int(bob.id), state)
    post = await make_post(client, alice)
    fan_out(client)
    assert feed.fanout.skipped == 1 and feed.fanout.delivered == 0
    rebuilds = feed.rebuilds
    assert await feed_ids(client, bob) == [post["id"]]
    assert feed.rebuilds == rebuilds + 1


async def test_fan_out_resumes_from_its_saved_progress_after_a_restart(tmp_path):
    config = feed_config(tmp_path / "data", fanout_batch=2)
    async with app_client(config) as client:
        author = await register(client, "author")
        fans = [await register(client, f"fan{i}") for i in range(5)]
        for fan in fans:
            await follow(client, fan, author)
            await feed_ids(client, fan)
        post = await make_post(client, author)
        assert in_app(client, state_of(client).feed.fanout.run_once) == 1  # one page of two followers
        (row,) = await outbox(client, author)
        assert row[1] > 0  # progress saved
    async with app_client(config) as client:  # a clean restart keeps the cache: timelines survive
        fan_out(client)
        assert await outbox(client, author) == []
        for fan in fans:
            assert await feed_ids(client, fan) == [post["id"]]
        assert state_of(client).feed.fanout.delivered == 3  # only the pages not yet done


async def test_a_cold_cache_rebuilds_the_same_feeds(tmp_path):
    import shutil

    config = feed_config(tmp_path / "data")
    async with app_client(config) as client:
        users = [await register(client, name) for name in ("ann", "ben", "cat", "dan")]
        for a in users:
            for b in users:
                if a is not b and (len(a.username) + len(b.username) + ord(b.username[0])) % 3:
                    await follow(client, a, b)
        for user in users:
            await feed_ids(client, user)
            for _ in range(3):
                await make_post(client, user)
        fan_out(client)
        before = {user.username: await feed_ids(client, user) for user in users}
    shutil.rmtree(tmp_path / "data" / "cache")
    async with app_client(config) as client:
        after = {user.username: await feed_ids(client, user) for user in users}
        assert state_of(client).feed.rebuilds == len(users)
    assert after == before and any(before.values())

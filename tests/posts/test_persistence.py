"""Posts survive a restart and a lost cache; other modules can write in a post's own transaction."""

from __future__ import annotations

import shutil

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.errors import InvalidInput
from tests.accounts.helpers import assert_error, counts, state_of
from tests.conftest import register
from tests.posts.helpers import POSTS, all_ids, make_post, ready_media, stored


async def observe(client, users) -> dict:
    """What the posts routes answer about everything, to each of these viewers."""
    seen = {}
    for user in users:
        for path in [f"/api/v1/users/{name}/posts" for name in ("alice", "bob")] + ["/api/v1/me/saved"]:
            seen[(user.username, path)] = await all_ids(client, path, user)
        for post_id in seen[(user.username, "/api/v1/users/alice/posts")]:
            for suffix in ("", "/comments"):
                response = await client.get(f"{POSTS}/{post_id}{suffix}", headers=user.headers)
                seen[(user.username, post_id + suffix)] = (response.status_code, response.json())
    return seen


async def test_posts_likes_comments_and_saves_survive_a_restart(config):
    async with AsyncTestClient(create_app(config)) as client:
        alice, bob = await register(client, "alice"), await register(client, "bob")
        first = await make_post(client, alice, "#one @bob", n=2)
        second = await make_post(client, alice, "two", media="video", kind="reel")
        await make_post(client, bob, "bob's")
        await client.post(f"{POSTS}/{first['id']}/like", headers=bob.headers)
        await client.post(f"{POSTS}/{second['id']}/save", headers=bob.headers)
        top = (await client.post(f"{POSTS}/{first['id']}/comments", headers=bob.headers, json={"text": "hey"})).json()
        await client.post(f"{POSTS}/{first['id']}/comments", headers=alice.headers, json={"text": "yo", "reply_to": top["id"]})
        await client.patch(f"{POSTS}/{second['id']}", headers=alice.headers, json={"caption": "two, edited"})
        before = await observe(client, [alice, bob])
        rows = await stored(client)
    assert before[("bob", first["id"])][1]["like_count"] == 1 and before[("bob", first["id"])][1]["liked"] is True
    assert before[("bob", "/api/v1/me/saved")] == [second["id"]]
    assert before[("alice", first["id"] + "/comments")][1]["items"][0]["reply_count"] == 1

    for wipe_cache in (False, True):
        if wipe_cache:
            shutil.rmtree(config.data_path / "cache")
        async with AsyncTestClient(create_app(config)) as client:
            assert await stored(client) == rows
            assert await observe(client, [alice, bob]) == before, f"wipe_cache={wipe_cache}"
            assert (await counts(client, "alice"))["posts"] == 2


async def test_create_hooks_run_in_the_posts_transaction(client, alice):
    """What the feed module will do: write its outbox row in the post's own transaction."""
    posts = state_of(client).posts
    written = []

    def outbox(conn, record) -> None:
        count = conn.execute("SELECT count(*) FROM posts WHERE id = ?", (record.id,)).fetchone()[0]
        written.append((record.id, record.author_id, count))  # the post row is already there

    posts.in_create_transaction.append(outbox)
    post = await make_post(client, alice)
    assert written == [(int(post["id"]), int(alice.id), 1)]

    def refuse(conn, record) -> None:
        raise InvalidInput("the feed is full")

    posts.in_create_transaction.append(refuse)
    media_ids = await ready_media(client, alice)
    before = await stored(client)
    assert_error(await client.post(POSTS, headers=alice.headers, json={"media_ids": media_ids}), 400, "the feed is full")
    assert await stored(client) == before  # no post, and the upload is still free
    assert (await counts(client, "alice"))["posts"] == 1

"""The profile grid, hashtags and mentions (parsed, indexed, re-indexed), posts_with_tag, and the events."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, in_app, register_on_shard, state_of, sync_in_app
from tests.conftest import register
from tests.graph.test_private import make_private
from tests.posts.helpers import POSTS, EventLog, all_ids, ids_of, make_post, stored


def grid(name: str) -> str:
    return f"/api/v1/users/{name}/posts"


def tagged(client, tag: str, viewer=None, cursor=None, limit=20) -> tuple[list[str], str | None]:
    """posts_with_tag as a later Explore module will call it."""
    viewer_id = int(viewer.id) if viewer else None
    page = in_app(client, state_of(client).posts.posts_with_tag, tag, viewer_id, cursor, limit)
    return [str(view.record.id) for view in page.posts], page.next_cursor


async def test_the_grid_is_newest_first_in_pages_and_respects_privacy(client, alice, bob, carol):
    posts = [await make_post(client, alice, f"#{i}th") for i in range(5)]
    await make_post(client, bob, "not alice's")
    newest_first = [post["id"] for post in reversed(posts)]
    page, cursor = await ids_of(client, grid("alice"), limit=2)
    assert page == newest_first[:2] and cursor is not None
    assert await all_ids(client, grid("ALICE"), bob) == newest_first
    assert (await client.get("/api/v1/users/alice")).json()["counts"]["posts"] == 5

    await make_private(client, alice)
    assert await all_ids(client, grid("alice"), alice) == newest_first
    assert_error(await client.get(grid("alice"), headers=bob.headers), 403, "private")
    assert_error(await client.get(grid("alice")), 403, "private")
    await client.post("/api/v1/users/alice/follow", headers=bob.headers)
    await client.post("/api/v1/follow-requests/bob/approve", headers=alice.headers)
    assert await all_ids(client, grid("alice"), bob) == newest_first
    await client.post("/api/v1/users/carol/block", headers=alice.headers)
    assert_error(await client.get(grid("alice"), headers=carol.headers), 404, "no user 'alice'")
    assert_error(await client.get(grid("ghost")), 404, "no user 'ghost'")
    for query in ("limit=0", "limit=101", "cursor=abc"):
        assert_error(await client.get(f"{grid('alice')}?{query}", headers=alice.headers), 400)


async def test_hashtags_and_mentions_are_parsed_indexed_and_announced(client, alice, bob, carol):
    events = EventLog(client)
    caption = "Sunset at the #Beach with @Bob and @carol. #beach #été #1 #sun_set @nobody @bob mail@carol.com"
    post = await make_post(client, alice, caption)
    assert post["hashtags"] == ["beach", "été", "sun_set"]
    assert post["mentions"] == ["bob", "carol"]
    pid = int(post["id"])
    rows = await stored(client)
    assert sorted(rows["post_tags"]) == [("beach", pid), ("sun_set", pid), ("été", pid)]
    assert rows["post_mentions"] == sorted([(pid, int(bob.id)), (pid, int(carol.id))])
    assert events.named("post.created") == [
        {"post_id": pid, "author_id": int(alice.id), "kind": "post", "hashtags": ["beach", "été", "sun_set"],
         "mentioned_ids": [int(bob.id), int(carol.id)]}
    ]
    assert tagged(client, "#BEACH") == ([post["id"]], None)

    # Editing the caption indexes again: old tags and mentions go, new ones come.
    response = await client.patch(f"{POSTS}/{post['id']}", headers=alice.headers, json={"caption": "#dusk with @carol"})
    assert response.status_code == 200, response.text
    assert (response.json()["hashtags"], response.json()["mentions"]) == (["dusk"], ["carol"])
    rows = await stored(client)
    assert rows["post_tags"] == [("dusk", pid)] and rows["post_mentions"] == [(pid, int(carol.id))]
    assert tagged(client, "beach") == ([], None) and tagged(client, "dusk") == ([post["id"]], None)
    assert events.named("post.updated") == [
        {"post_id": pid, "author_id": int(alice.id), "fields": ["caption"], "hashtags": ["dusk"], "mentioned_ids": [int(carol.id)]}
    ]
    assert (await client.delete(f"{POSTS}/{post['id']}", headers=alice.headers)).status_code == 204
    assert events.named("post.deleted") == [{"post_id": pid, "author_id": int(alice.id)}]
    assert tagged(client, "dusk") == ([], None)


async def test_only_so_many_terms_are_indexed(client, alice):
    caption = " ".join(f"#tag{i} @user{i}" for i in range(40)) + " #" + "x" * 101
    post = await make_post(client, alice, caption)
    assert post["hashtags"] == [f"tag{i}" for i in range(30)]  # [posts] max_hashtags
    assert post["mentions"] == []  # nobody of those names exists


async def test_posts_with_a_tag_merge_every_shard_newest_first(client, alice):
    authors = [await register_on_shard(client, shard, "tagger") for shard in range(4)]
    private = await register(client, "hushed")
    await make_private(client, private)
    made = []
    for round_ in range(2):
        for author in authors:
            made.append((await make_post(client, author, f"#sea round {round_}"))["id"])
    secret = (await make_post(client, private, "#sea secret"))["id"]
    newest_first = list(reversed(made))
    assert len({int(i) >> 10 & 8191 for i in made}) == 4  # on four shards
    page, cursor = tagged(client, "sea", alice, limit=3)
    assert page == newest_first[:3] and cursor is not None
    rest, cursor = tagged(client, "sea", alice, cursor=cursor, limit=10)
    assert rest == newest_first[3:] and cursor is None
    # The private account's post is for its author only (and its followers).
    assert tagged(client, "sea", private)[0] == [secret, *newest_first]
    assert tagged(client, "sea")[0] == newest_first


async def test_every_posts_event_fires_after_commit_with_its_documented_keys(client, alice, bob):
    events = EventLog(client)
    post = await make_post(client, alice, "@bob #tag")
    url = f"{POSTS}/{post['id']}"
    await client.post(f"{url}/like", headers=bob.headers)
    await client.delete(f"{url}/like", headers=bob.headers)
    await client.post(f"{url}/save", headers=bob.headers)
    await client.delete(f"{url}/save", headers=bob.headers)
    made = (await client.post(f"{url}/comments", headers=bob.headers, json={"text": "hi"})).json()
    await client.delete(f"/api/v1/comments/{made['id']}", headers=bob.headers)
    await client.patch(url, headers=alice.headers, json={"caption": "edited"})
    await client.delete(url, headers=alice.headers)
    # EventLog checks each at emit time: keys as events.py documents, change visible to another connection.
    assert events.names() == [
        "post.created", "post.liked", "post.unliked", "post.saved", "post.unsaved",
        "comment.created", "comment.deleted", "post.updated", "post.deleted",
    ]


async def test_a_page_costs_a_few_queries_per_shard_however_long_it_is(client, bob):
    """Hydration is batched: posts, media, counters and likes by shard, never one query per post."""
    state = state_of(client)
    authors = [await register_on_shard(client, shard, "author") for shard in range(4)]
    posts = [await make_post(client, authors[i % 4], f"#{i}") for i in range(16)]
    for post in posts:
        await client.post(f"{POSTS}/{post['id']}/save", headers=bob.headers)
    queries: list[str] = []
    reading = state.meta.read

    async def counted(shard, sql, params=()):
        queries.append(sql)
        return await reading(shard, sql, params)

    async def cost(limit: int) -> int:
        queries.clear()
        page, _ = await ids_of(client, "/api/v1/me/saved", bob, limit=limit)
        assert len(page) == limit
        return len(queries)

    state.meta.read = counted  # read_by_shard goes through it too
    try:
        for post in posts:  # cold: nothing of these posts is cached
            sync_in_app(client, state.posts.post_cache.delete, int(post["id"]))
            sync_in_app(client, state.counters.invalidate, int(post["id"]))
        # saves; then by shard: posts, media, counters, likes; then saved flags; relationships once per author.
        cold = await cost(16)
        assert cold <= 1 + 4 * 4 + 1 + 4
        warm = await cost(16)
        assert warm == await cost(4) <= 1 + 4 + 1  # saves, likes by shard, saved flags
    finally:
        del state.meta.read

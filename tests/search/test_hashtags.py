"""Hashtags in search (counts summed over shards) and a hashtag's posts, recent and top."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, read, register_on_shard, state_of
from tests.posts.helpers import POSTS, all_ids, ids_of, make_post
from tests.search.helpers import tags

TAG = "/api/v1/tags/{}/posts"


async def test_counts_are_summed_over_shards(client):
    shards = state_of(client).meta.shard_count
    people = [await register_on_shard(client, shard, "u") for shard in range(shards)]
    for person in people:
        await make_post(client, person, "at the #Beach today #sun")
    await make_post(client, people[0], "#beach again")
    await make_post(client, people[1], "#beachball")
    assert await tags(client, "beach") == [("beach", shards + 1), ("beachball", 1)]
    assert await tags(client, "#SU") == [("sun", shards)]
    # Each shard counts only its own posts.
    per_shard = [await read(client, s, "SELECT posts FROM tag_counts WHERE tag = 'beach'") for s in range(shards)]
    assert [rows[0]["posts"] for rows in per_shard] == [2] + [1] * (shards - 1)


async def test_results_sort_by_count_and_words_inside_tags_match(client, alice, bob):
    await make_post(client, alice, "#cat_pics #catnip")
    await make_post(client, bob, "#catnip #cafés")
    assert await tags(client, "cat") == [("catnip", 2), ("cat_pics", 1)]
    assert await tags(client, "pics") == [("cat_pics", 1)]
    assert await tags(client, "cafe") == [("cafés", 1)]  # accents do not matter


async def test_counts_follow_deletes_and_edits(client, alice, bob):
    first = await make_post(client, alice, "#dogs")
    second = await make_post(client, bob, "#dogs")
    assert await tags(client, "dog") == [("dogs", 2)]
    assert (await client.delete(f"{POSTS}/{first['id']}", headers=alice.headers)).status_code == 204
    assert await tags(client, "dog") == [("dogs", 1)]
    response = await client.patch(f"{POSTS}/{second['id']}", headers=bob.headers, json={"caption": "#puppies"})
    assert response.status_code == 200, response.text
    assert await tags(client, "dog") == []
    assert await tags(client, "pup") == [("puppies", 1)]


async def test_tag_page_recent_is_newest_first_with_pages(client, alice, bob):
    made = [await make_post(client, person, "#walk") for person in (alice, bob, alice, bob, alice)]
    newest_first = [post["id"] for post in reversed(made)]
    assert await all_ids(client, TAG.format("walk"), limit=2) == newest_first
    assert await all_ids(client, TAG.format("WALK") + "?order=recent", limit=3) == newest_first
    assert (await ids_of(client, TAG.format("nothing"))) == ([], None)


async def test_tag_page_top_orders_by_likes_and_comments(client, alice, bob, carol):
    made = [await make_post(client, alice, f"#top post {i}") for i in range(4)]
    for post_id, fans in [(made[1]["id"], [bob, carol]), (made[2]["id"], [bob])]:
        for fan in fans:
            assert (await client.post(f"{POSTS}/{post_id}/like", headers=fan.headers)).status_code == 200
    response = await client.post(f"{POSTS}/{made[0]['id']}/comments", headers=bob.headers, json={"text": "nice"})
    assert response.status_code == 201, response.text
    # made[1]: 2 likes; made[2]: 1 like; made[0]: 1 comment (older than made[2]); made[3]: nothing.
    expected = [made[1]["id"], made[2]["id"], made[0]["id"], made[3]["id"]]
    page, cursor = await ids_of(client, TAG.format("top"), order="top", limit=3)
    assert (page, cursor) == (expected[:3], "r3")
    assert await ids_of(client, TAG.format("top"), order="top", limit=3, cursor=cursor) == (expected[3:], None)


async def test_tag_page_hides_blocked_authors_and_refuses_bad_input(client, alice, bob):
    await make_post(client, alice, "#hidden")
    assert (await client.post(f"/api/v1/users/{alice.username}/block", headers=bob.headers)).status_code == 200
    assert (await ids_of(client, TAG.format("hidden"), bob, order="top")) == ([], None)
    assert len((await ids_of(client, TAG.format("hidden")))[0]) == 1
    assert_error(await client.get(TAG.format("no-such!tag")), 404, "hashtag")
    assert_error(await client.get(TAG.format("123")), 404, "hashtag")
    assert_error(await client.get(TAG.format("top"), params={"order": "top", "cursor": "x"}), 400, "cursor")
    assert (await client.get(TAG.format("top"), params={"order": "best"})).status_code == 400


async def test_a_private_accounts_hashtags_stay_out_of_search(client, alice, bob):
    """Found by tests/reliability: tag counts took in private accounts' posts, so anyone
    (anonymous callers too) could read the hashtags of a private caption, and their number."""
    assert (await client.patch("/api/v1/me", headers=alice.headers, json={"private": True})).status_code == 200
    await make_post(client, alice, "#secretgarden #sunset")
    await make_post(client, bob, "#sunset")
    for viewer in (None, bob, alice):  # the tag's count is of public posts, the same for everyone
        assert await tags(client, "secretg", viewer) == []
        assert await tags(client, "sunset", viewer) == [("sunset", 1)]
    # The counts follow the account going public, and private again.
    assert (await client.patch("/api/v1/me", headers=alice.headers, json={"private": False})).status_code == 200
    assert await tags(client, "s") == [("sunset", 2), ("secretgarden", 1)]
    assert (await client.patch("/api/v1/me", headers=alice.headers, json={"private": True})).status_code == 200
    assert await tags(client, "s") == [("sunset", 1)]
    # Deleting or editing a private post moves nothing (it was never counted).
    third = await make_post(client, alice, "#sunset")
    await client.patch(f"{POSTS}/{third['id']}", headers=alice.headers, json={"caption": "#dawn"})
    assert (await client.delete(f"{POSTS}/{third['id']}", headers=alice.headers)).status_code == 204
    assert await tags(client, "s") == [("sunset", 1)]
    assert await tags(client, "dawn") == []

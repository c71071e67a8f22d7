"""Likes and saves: idempotent, exact counts under races, and /api/v1/me/saved."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, concurrently
from tests.conftest import register
from tests.graph.test_private import make_private
from tests.posts.helpers import POSTS, EventLog, all_ids, get_post, ids_of, make_post, stored

SAVED = "/api/v1/me/saved"


async def test_likes_are_idempotent_and_counted_exactly(client, alice, bob, carol):
    events = EventLog(client)
    post = await make_post(client, alice)
    url = f"{POSTS}/{post['id']}/like"
    for _ in range(2):
        response = await client.post(url, headers=bob.headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"liked": True, "like_count": 1}
    assert (await client.post(url, headers=carol.headers)).json() == {"liked": True, "like_count": 2}
    assert (await get_post(client, post["id"], bob))["liked"] is True
    seen_by_alice = await get_post(client, post["id"], alice)
    assert (seen_by_alice["like_count"], seen_by_alice["liked"]) == (2, False)
    for _ in range(2):
        assert (await client.delete(url, headers=bob.headers)).json() == {"liked": False, "like_count": 1}
    assert (await get_post(client, post["id"], bob))["liked"] is False
    # Only real changes are events.
    payload = {"post_id": int(post["id"]), "author_id": int(alice.id)}
    assert events.named("post.liked") == [{**payload, "user_id": int(bob.id)}, {**payload, "user_id": int(carol.id)}]
    assert events.named("post.unliked") == [{**payload, "user_id": int(bob.id)}]
    assert_error(await client.post(url), 401, "log in")
    assert_error(await client.post(f"{POSTS}/42/like", headers=bob.headers), 404, "no post")


async def test_concurrent_likes_and_unlikes_keep_the_count_exact(client, alice):
    post = await make_post(client, alice)
    url = f"{POSTS}/{post['id']}/like"
    fans = [await register(client, f"fan{i}") for i in range(6)]

    def liker(fan, times):
        async def run(http):
            for _ in range(times):
                assert (await http.post(url, headers=fan.headers)).status_code == 200
        return run

    def flipper(fan):
        async def run(http):
            for method in ("POST", "DELETE", "POST", "DELETE"):
                assert (await http.request(method, url, headers=fan.headers)).status_code == 200
        return run

    concurrently(client, *(liker(fan, 3) for fan in fans[:4]), *(flipper(fan) for fan in fans[4:]))
    assert (await get_post(client, post["id"]))["like_count"] == 4
    rows = await stored(client)
    assert len(rows["likes"]) == 4
    assert (int(post["id"]), "likes", 4) in rows["counters"]


async def test_saves_list_newest_saved_first_and_page(client, alice, bob):
    posts = [await make_post(client, alice, f"post {i}") for i in range(5)]
    events = EventLog(client)
    # Saved in another order than posted: the list follows the saving.
    order = [posts[2], posts[0], posts[4], posts[1], posts[3]]
    for post in order:
        response = await client.post(f"{POSTS}/{post['id']}/save", headers=bob.headers)
        assert response.status_code == 200 and response.json() == {"saved": True}
    await client.post(f"{POSTS}/{order[0]['id']}/save", headers=bob.headers)  # again: no change
    newest_saved_first = [post["id"] for post in reversed(order)]
    first, cursor = await ids_of(client, SAVED, bob, limit=2)
    assert first == newest_saved_first[:2] and cursor is not None
    assert await all_ids(client, SAVED, bob) == newest_saved_first
    assert await all_ids(client, SAVED, alice) == []
    assert (await get_post(client, posts[0]["id"], bob))["saved"] is True
    assert (await get_post(client, posts[0]["id"], alice))["saved"] is False
    assert len(events.named("post.saved")) == 5

    assert (await client.delete(f"{POSTS}/{posts[4]['id']}/save", headers=bob.headers)).json() == {"saved": False}
    await client.delete(f"{POSTS}/{posts[4]['id']}/save", headers=bob.headers)
    assert posts[4]["id"] not in await all_ids(client, SAVED, bob)
    assert events.named("post.unsaved") == [{"post_id": int(posts[4]["id"]), "author_id": int(alice.id), "user_id": int(bob.id)}]
    assert_error(await client.get(SAVED), 401, "log in")
    for query, fragments in [("limit=0", ["limit"]), ("limit=101", ["limit"]), ("cursor=zz", ["cursor"])]:
        assert_error(await client.get(f"{SAVED}?{query}", headers=bob.headers), 400, *fragments)


async def test_saved_list_skips_deleted_and_hidden_posts(client, alice, bob, carol):
    dave = await register(client, "dave")
    kept = [await make_post(client, carol, f"carol {i}") for i in range(3)]
    deleted = [await make_post(client, alice, f"gone {i}") for i in range(3)]
    hidden = await make_post(client, dave, "dave goes private")
    for post in [kept[0], *deleted, hidden, kept[1], kept[2]]:
        assert (await client.post(f"{POSTS}/{post['id']}/save", headers=bob.headers)).status_code == 200
    for post in deleted:
        assert (await client.delete(f"{POSTS}/{post['id']}", headers=alice.headers)).status_code == 204
    await make_private(client, dave)
    # Pages of 2 skip the five posts that went, still in order, and still end.
    assert await all_ids(client, SAVED, bob) == [kept[2]["id"], kept[1]["id"], kept[0]["id"]]
    page, cursor = await ids_of(client, SAVED, bob, limit=2)
    assert page == [kept[2]["id"], kept[1]["id"]]
    page, cursor = await ids_of(client, SAVED, bob, limit=2, cursor=cursor)
    assert page == [kept[0]["id"]] and cursor is None
    # Unsaving a post you can no longer see is a 404, like any hidden post.
    assert_error(await client.delete(f"{POSTS}/{hidden['id']}/save", headers=bob.headers), 404, "no post")

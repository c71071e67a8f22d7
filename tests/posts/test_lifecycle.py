"""GET, PATCH and DELETE /api/v1/posts/{id}: who may see, edit and delete, and what deleting lets go."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, counts
from tests.graph.test_private import make_private
from tests.posts.helpers import POSTS, blob_keys, get_post, make_post, ready_media, refcounts, stored


async def expect_hidden(client, post_id: str, user) -> None:
    """The answer for a hidden post is the very answer for one that never existed."""
    missing = await client.get(f"{POSTS}/1", headers=user.headers if user else None)
    hidden = await client.get(f"{POSTS}/{post_id}", headers=user.headers if user else None)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(post_id, "1") == missing.json()["detail"]
    assert set(hidden.json()) == {"status_code", "detail"}


async def test_read_as_anyone_and_404_for_missing_or_malformed_ids(client, alice, bob):
    post = await make_post(client, alice, "hello")
    assert (await get_post(client, post["id"], bob))["caption"] == "hello"
    assert (await get_post(client, post["id"]))["caption"] == "hello"
    for bad in ("abc", "0", "-5", "99999999999999999999", str((1 << 62) | (4000 << 10))):
        assert_error(await client.get(f"{POSTS}/{bad}", headers=bob.headers), 404, "no post")
    # Longer than any 64-bit id (20 digits): refused as bad input before any lookup, which
    # reveals nothing about which posts exist.
    assert_error(await client.get(f"{POSTS}/{'1' * 21}", headers=bob.headers), 400, "post_id", "length <= 20")


async def test_private_posts_are_for_approved_followers_only(client, alice, bob, carol):
    await make_private(client, alice)
    post = await make_post(client, alice, "just friends")
    await client.post("/api/v1/users/alice/follow", headers=bob.headers)
    await client.post("/api/v1/users/alice/follow", headers=carol.headers)
    await client.post("/api/v1/follow-requests/bob/approve", headers=alice.headers)
    assert (await get_post(client, post["id"], alice))["caption"] == "just friends"
    assert (await get_post(client, post["id"], bob))["caption"] == "just friends"
    await expect_hidden(client, post["id"], carol)  # asked, not approved
    await expect_hidden(client, post["id"], None)
    # Nor may they act on it.
    for method, path in [("POST", "/like"), ("POST", "/save"), ("GET", "/comments"), ("DELETE", ""), ("PATCH", "")]:
        body = {"caption": "x"} if method == "PATCH" else None
        response = await client.request(method, f"{POSTS}/{post['id']}{path}", headers=carol.headers, json=body)
        assert_error(response, 404, "no post", post["id"])
    response = await client.post(f"{POSTS}/{post['id']}/comments", headers=carol.headers, json={"text": "hi"})
    assert_error(response, 404, "no post")


async def test_blocks_hide_posts_both_ways(client, alice, bob, carol):
    post = await make_post(client, alice, "public")
    await client.post("/api/v1/users/bob/block", headers=alice.headers)
    await expect_hidden(client, post["id"], bob)
    bobs = await make_post(client, bob, "bob's")
    await expect_hidden(client, bobs["id"], alice)
    assert (await get_post(client, post["id"], carol))["caption"] == "public"
    await client.delete("/api/v1/users/bob/block", headers=alice.headers)
    assert (await get_post(client, post["id"], bob))["caption"] == "public"


async def test_the_author_edits_caption_and_alt_texts(client, alice):
    media_ids = await ready_media(client, alice, n=2)
    response = await client.post(POSTS, headers=alice.headers, json={"caption": "before #old", "media_ids": media_ids})
    post = response.json()
    url = f"{POSTS}/{post['id']}"
    response = await client.patch(url, headers=alice.headers, json={"caption": "after #new", "alt_texts": {media_ids[1]: "a dog"}})
    assert response.status_code == 200, response.text
    edited = response.json()
    assert (edited["caption"], edited["hashtags"]) == ("after #new", ["new"])
    assert [item["alt_text"] for item in edited["media"]] == ["", "a dog"]
    assert edited["edited_at"] is not None and edited["created_at"] == post["created_at"]
    assert await get_post(client, post["id"]) == edited  # the cache entry was replaced
    # Alt text alone leaves the caption; an empty body changes nothing.
    alt_only = (await client.patch(url, headers=alice.headers, json={"alt_texts": {media_ids[0]: "a cat"}})).json()
    assert alt_only["caption"] == "after #new" and alt_only["media"][0]["alt_text"] == "a cat"
    assert (await client.patch(url, headers=alice.headers, json={})).json() == alt_only
    # Emptying the caption is an edit too.
    assert (await client.patch(url, headers=alice.headers, json={"caption": ""})).json()["hashtags"] == []


async def test_bad_edits_are_refused_and_change_nothing(client, alice, bob):
    [other] = await ready_media(client, alice)
    post = await make_post(client, alice, "keep me")
    url = f"{POSTS}/{post['id']}"
    item = post["media"][0]["id"]
    before = await stored(client)
    for body, status, fragments in [
        ({"caption": "c" * 2201}, 400, ["caption", "length <= 2200"]),
        ({"alt_texts": {item: "a" * 1001}}, 400, ["alt_texts", "length <= 1000"]),
        ({"alt_texts": {other: "not here"}}, 400, ["alt_texts", other, "not an item of this post"]),
        ({"caption": "ok", "alt_texts": {other: "x"}}, 400, ["not an item of this post"]),
        ({"kind": "reel"}, 400, ["unknown field", "kind"]),
        ({"caption": None}, 400, ["caption"]),
    ]:
        assert_error(await client.patch(url, headers=alice.headers, json=body), status, *fragments)
    assert_error(await client.patch(url, headers=bob.headers, json={"caption": "mine now"}), 403, "only its author")
    assert_error(await client.patch(url, json={"caption": "anon"}), 401, "log in")
    assert_error(await client.patch(f"{POSTS}/xyz", headers=alice.headers, json={"caption": "x"}), 404, "no post")
    assert await stored(client) == before
    assert (await get_post(client, post["id"]))["caption"] == "keep me"


async def test_delete_lets_go_of_everything(client, alice, bob):
    post = await make_post(client, alice, "#gone @bob", n=2)
    keep = await make_post(client, alice, "#stays")
    keys = blob_keys(post)
    assert len(keys) == 4 and refcounts(client, keys) == [1, 1, 1, 1]
    url = f"{POSTS}/{post['id']}"
    await client.post(f"{url}/like", headers=bob.headers)
    await client.post(f"{url}/comments", headers=bob.headers, json={"text": "nice"})
    assert (await counts(client, "alice"))["posts"] == 2

    assert_error(await client.delete(url, headers=bob.headers), 403, "only its author")
    assert_error(await client.delete(url), 401, "log in")
    response = await client.delete(url, headers=alice.headers)
    assert response.status_code == 204, response.text

    assert refcounts(client, keys) == [0, 0, 0, 0]
    assert refcounts(client, blob_keys(keep)) == [1, 1]
    assert (await counts(client, "alice"))["posts"] == 1
    rows = await stored(client)
    assert [row[0] for row in rows["posts"]] == [int(keep["id"])]
    assert rows["post_tags"] == [("stays", int(keep["id"]))]
    assert rows["post_mentions"] == rows["likes"] == rows["comments"] == []
    assert [row[0] for row in rows["media"]] == [int(keep["media"][0]["id"])]
    assert not [row for row in rows["counters"] if row[0] == int(post["id"])]
    assert_error(await client.get(url, headers=alice.headers), 404, "no post")
    assert_error(await client.delete(url, headers=alice.headers), 404, "no post")

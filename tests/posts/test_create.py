"""POST /api/v1/posts: posts, carousels, reels, and every way to get it wrong without writing anything."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, counts
from tests.conftest import make_config
from tests.posts.helpers import POSTS, blob_keys, get_post, make_media, ready_media, refcounts, stored


async def test_a_post_of_one_image(client, alice):
    [media_id] = await ready_media(client, alice)
    response = await client.post(POSTS, headers=alice.headers, json={"caption": "first light", "media_ids": [media_id]})
    assert response.status_code == 201, response.text
    post = response.json()
    assert post["author"] == {"id": alice.id, "username": "alice", "display_name": "", "avatar_media_id": None, "avatar_url": None}
    assert (post["kind"], post["caption"], post["hashtags"], post["mentions"]) == ("post", "first light", [], [])
    assert [item["id"] for item in post["media"]] == [media_id]
    assert post["media"][0]["status"] == "ready" and post["media"][0]["kind"] == "image"
    assert {v["role"] for v in post["media"][0]["variants"]} == {"image", "fallback"}
    assert (post["like_count"], post["comment_count"], post["liked"], post["saved"]) == (0, 0, False, False)
    assert post["created_at"].endswith("Z") and post["edited_at"] is None
    assert (await counts(client, "alice"))["posts"] == 1
    # Read back, anonymously: the same post.
    assert await get_post(client, post["id"]) == post
    # The media row now belongs to the post; its blobs are still held once.
    rows = (await stored(client))["media"]
    assert rows == [(int(media_id), "ready", "", int(post["id"]), 0)]
    assert refcounts(client, blob_keys(post)) == [1, 1]


async def test_a_carousel_mixes_images_and_videos_in_the_given_order(client, alice):
    images = await ready_media(client, alice, "image", 2)
    [video] = await ready_media(client, alice, "video")
    order = [images[1], video, images[0]]
    response = await client.post(
        POSTS, headers=alice.headers, json={"media_ids": order, "alt_texts": {video: "a wave breaking"}}
    )
    assert response.status_code == 201, response.text
    post = response.json()
    assert [item["id"] for item in post["media"]] == order
    assert [item["kind"] for item in post["media"]] == ["image", "video", "image"]
    assert [item["alt_text"] for item in post["media"]] == ["", "a wave breaking", ""]
    assert post["caption"] == "" and post["kind"] == "post"
    assert (await get_post(client, post["id"], alice))["media"] == post["media"]


async def test_ten_items_is_the_most(client, alice):
    media_ids = await ready_media(client, alice, n=11)
    before = await stored(client)
    assert_error(await client.post(POSTS, headers=alice.headers, json={"media_ids": media_ids}), 400, "media_ids", "length <= 10")
    assert await stored(client) == before
    response = await client.post(POSTS, headers=alice.headers, json={"media_ids": media_ids[:10]})
    assert response.status_code == 201, response.text
    assert len(response.json()["media"]) == 10


async def test_a_reel_is_exactly_one_video(client, alice):
    [video] = await ready_media(client, alice, "video")
    [image] = await ready_media(client, alice, "image")
    [second_video] = await ready_media(client, alice, "video")
    before = await stored(client)
    for media_ids, fragments in [
        ([image], ["media_ids", "a reel is a video", image]),
        ([video, second_video], ["media_ids", "exactly one video"]),
    ]:
        response = await client.post(POSTS, headers=alice.headers, json={"media_ids": media_ids, "kind": "reel"})
        assert_error(response, 400, *fragments)
    assert await stored(client) == before
    response = await client.post(POSTS, headers=alice.headers, json={"media_ids": [video], "kind": "reel"})
    assert response.status_code == 201, response.text
    reel = response.json()
    assert reel["kind"] == "reel" and reel["media"][0]["kind"] == "video" and reel["media"][0]["duration_ms"] == 3000


async def test_media_that_cannot_be_posted_is_refused_and_nothing_is_written(client, alice, bob):
    [mine] = await ready_media(client, alice)
    [bobs] = await ready_media(client, bob)
    [processing] = await make_media(client, alice, status="processing")
    [failed] = await make_media(client, alice, status="failed")
    [used] = await ready_media(client, alice)
    assert (await client.post(POSTS, headers=alice.headers, json={"media_ids": [used]})).status_code == 201
    before = await stored(client)
    cases = [
        ([mine, bobs], 400, [bobs, "not one of your uploads"]),
        ([mine, "123456789"], 400, ["123456789", "not one of your uploads"]),
        ([mine, processing], 409, [processing, "still processing"]),
        ([mine, failed], 400, [failed, "failed", "TIFF"]),
        ([mine, used], 409, [used, "already in a post"]),
        ([mine, mine], 400, ["media_ids", "twice"]),
    ]
    for media_ids, status, fragments in cases:
        response = await client.post(POSTS, headers=alice.headers, json={"caption": "#nope", "media_ids": media_ids})
        assert_error(response, status, *fragments)
    # The first item was claimed before the bad one was seen: rolled back with the rest.
    assert await stored(client) == before
    assert (await counts(client, "alice"))["posts"] == 1
    # Bob's upload is still his to post.
    assert (await client.post(POSTS, headers=bob.headers, json={"media_ids": [bobs]})).status_code == 201


MALFORMED = [
    ({"media_ids": []}, ["media_ids", "length >= 1"]),
    ({"caption": "no media"}, ["media_ids", "missing"]),
    ({"media_ids": ["12x"]}, ["media_ids[0]", "matching regex"]),
    ({"media_ids": ["1" * 21]}, ["media_ids", "length <= 20"]),
    ({"media_ids": ["0"]}, ["media_ids", "'0' is not an id"]),
    ({"media_ids": ["99999999999999999999"]}, ["media_ids", "is not an id"]),
    ({"media_ids": [123]}, ["media_ids", "expected `str`"]),
    ({"media_ids": "123"}, ["media_ids", "expected `array`"]),
    ({"media_ids": ["1"], "kind": "story"}, ["kind", "invalid enum value 'story'"]),
    ({"media_ids": ["1"], "caption": 5}, ["caption", "expected `str`"]),
    ({"media_ids": ["1"], "caption": "c" * 2201}, ["caption", "length <= 2200"]),
    ({"media_ids": ["1"], "alt_texts": {"1": "a" * 1001}}, ["alt_texts", "length <= 1000"]),
    ({"media_ids": ["1"], "alt_texts": {"x": "a"}}, ["alt_texts", "matching regex"]),
    ({"media_ids": ["1"], "alt_texts": ["a"]}, ["alt_texts", "expected `object`"]),
    # A post has 10 items at most, so it has 10 alt texts at most: the map is bounded too.
    ({"media_ids": ["1"], "alt_texts": {str(i): "a" for i in range(1, 12)}}, ["alt_texts", "length <= 10"]),
    ({"media_ids": ["1"], "location": "Paris"}, ["unknown field", "location"]),
]


async def test_malformed_bodies_are_400s_naming_the_field(client, alice):
    [media_id] = await ready_media(client, alice)
    before = await stored(client)
    for body, fragments in MALFORMED:
        assert_error(await client.post(POSTS, headers=alice.headers, json=body), 400, *fragments)
    for not_json in (b"{", b"[]", b'{"media_ids": [' * 5000):
        assert_error(await client.post(POSTS, headers=alice.headers, content=not_json), 400)
    assert await stored(client) == before
    assert (await stored(client))["media"][0][3] is None  # the upload is still unattached


async def test_alt_text_for_media_not_in_the_post_is_refused(client, alice):
    [first, other] = await ready_media(client, alice, n=2)
    before = await stored(client)
    body = {"media_ids": [first], "alt_texts": {other: "not in this post"}}
    assert_error(await client.post(POSTS, headers=alice.headers, json=body), 400, "alt_texts", other, "not an item of this post")
    assert await stored(client) == before


async def test_posting_needs_login(client, alice):
    [media_id] = await ready_media(client, alice)
    assert_error(await client.post(POSTS, json={"media_ids": [media_id]}), 401, "log in")


async def test_the_configured_limits_apply(tmp_path):
    """[posts] settings below the wire format's caps are enforced by the service."""
    from litestar.testing import AsyncTestClient

    from instamini.app import create_app
    from tests.conftest import register

    config = make_config(tmp_path / "data", "[posts]\nmax_items = 2\nmax_caption_chars = 10\nmax_alt_text_chars = 3\n")
    async with AsyncTestClient(create_app(config)) as client:
        alice = await register(client, "alice")
        media_ids = await ready_media(client, alice, n=3)
        before = await stored(client)
        for body, fragments in [
            ({"media_ids": media_ids}, ["media_ids", "1 to 2 items"]),
            ({"media_ids": media_ids[:1], "caption": "c" * 11}, ["caption", "at most 10 characters"]),
            ({"media_ids": media_ids[:1], "alt_texts": {media_ids[0]: "abcd"}}, ["alt_texts", "at most 3"]),
        ]:
            assert_error(await client.post(POSTS, headers=alice.headers, json=body), 400, *fragments)
        assert await stored(client) == before
        response = await client.post(POSTS, headers=alice.headers, json={"media_ids": media_ids[:2], "caption": "c" * 10})
        assert response.status_code == 201, response.text


async def test_a_retry_with_the_same_idempotency_key_returns_the_same_post(client, alice):
    [media_id] = await ready_media(client, alice)
    headers = {**alice.headers, "Idempotency-Key": "upload-7f3a"}
    first = await client.post(POSTS, headers=headers, json={"caption": "once", "media_ids": [media_id]})
    assert first.status_code == 201, first.text
    again = await client.post(POSTS, headers=headers, json={"caption": "once", "media_ids": [media_id]})
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert (await counts(client, "alice"))["posts"] == 1
    # Another key is another post (and that media is already used).
    other = {**alice.headers, "Idempotency-Key": "upload-other"}
    assert_error(await client.post(POSTS, headers=other, json={"media_ids": [media_id]}), 409, "already in a post")
    assert_error(
        await client.post(POSTS, headers={**alice.headers, "Idempotency-Key": "k" * 129}, json={"media_ids": [media_id]}),
        400,
        "idempotency_key", "length <= 128",
    )

"""Photos and shared posts in messages: what may be sent, and what stays correct afterwards."""

from __future__ import annotations

import time

from tests.accounts.helpers import assert_error, in_app, register_on_shard, state_of
from tests.conftest import register
from tests.messages.helpers import THREADS, connect, send, start, stored
from tests.posts.helpers import POSTS, make_media, make_post, ready_media, refcounts

LATER_MS = time.time_ns() // 1_000_000 + 10 * 24 * 3_600_000  # the janitor, ten days on


def variant_keys(media: dict) -> list[str]:
    return [variant["url"].rsplit("/", 1)[1].split(".")[0] for variant in media["variants"]]


async def test_a_photo_is_sent_kept_and_never_reused(client, alice, bob):
    thread = await start(client, alice, bob)
    [photo, spare] = await ready_media(client, alice, n=2)
    message = await send(client, alice, thread["id"], "", media_id=photo)
    assert message["text"] == "" and message["media"]["id"] == photo and message["media"]["kind"] == "image"
    keys = variant_keys(message["media"])
    assert len(keys) == 2 and refcounts(client, keys) == [1, 1]
    bobs_view = (await client.get(f"{THREADS}/{thread['id']}/messages", headers=bob.headers)).json()["items"][0]
    assert bobs_view["media"] == message["media"]

    before = await stored(client)
    path = f"{THREADS}/{thread['id']}/messages"
    assert_error(await client.post(path, headers=alice.headers, json={"media_id": photo}), 400, "already sent")
    response = await client.post(POSTS, headers=alice.headers, json={"media_ids": [photo]})
    assert_error(response, 409, "sent in a message")
    assert await stored(client) == before

    # The janitor collects the unused upload, not the sent one, and lets go of no blob of it.
    assert in_app(client, state_of(client).media.collect_unused, LATER_MS) == 1
    assert refcounts(client, keys) == [1, 1]
    again = (await client.get(f"{THREADS}/{thread['id']}/messages", headers=alice.headers)).json()["items"][0]
    assert again["media"] == message["media"]
    assert_error(await client.post(path, headers=alice.headers, json={"media_id": spare}), 400, "not one of your uploads")


async def test_only_your_own_ready_photos_not_in_a_post(client, alice, bob):
    thread = await start(client, alice, bob)
    path = f"{THREADS}/{thread['id']}/messages"
    post = await make_post(client, alice)
    cases = [
        ((await ready_media(client, bob))[0], "not one of your uploads"),
        ((await make_media(client, alice, status="processing"))[0], "still processing"),
        ((await make_media(client, alice, status="failed"))[0], "failed to process"),
        ((await ready_media(client, alice, kind="video"))[0], "only photos"),
        (post["media"][0]["id"], "already in a post"),
        ("12345", "not one of your uploads"),
    ]
    before = await stored(client)
    for media_id, fragment in cases:
        assert_error(await client.post(path, headers=alice.headers, json={"text": "x", "media_id": media_id}), 400, fragment)
    assert await stored(client) == before


async def test_a_photo_from_another_shard_than_the_thread(client):
    left = await register_on_shard(client, 0, "left")
    right = await register_on_shard(client, 1, "right")
    thread = await start(client, left, right)  # on left's shard
    [photo] = await ready_media(client, right)
    message = await send(client, right, thread["id"], "mine", media_id=photo)
    rows = (await stored(client))["message_media"]
    assert rows == [(int(photo), int(thread["id"]), int(message["id"]))]
    assert_error(
        await client.post(f"{THREADS}/{thread['id']}/messages", headers=right.headers, json={"media_id": photo}),
        400,
        "already sent",
    )
    assert len((await stored(client))["messages"]) == 1


async def test_a_shared_post_shows_a_preview_to_those_who_may_see_it(client, alice, bob, carol):
    dave = await register(client, "dave")
    await client.patch("/api/v1/me", headers=dave.headers, json={"private": True})
    await client.post("/api/v1/users/dave/follow", headers=alice.headers)
    await client.post("/api/v1/follow-requests/alice/approve", headers=dave.headers)
    public = await make_post(client, carol, "carol's #sunset")
    private = await make_post(client, dave, "dave only")
    group = await start(client, alice, bob, carol)
    path = f"{THREADS}/{group['id']}/messages"

    shared = await send(client, alice, group["id"], "look", post_id=public["id"])
    assert shared["post_id"] == public["id"]
    assert shared["post"]["author"]["username"] == "carol" and shared["post"]["caption"] == "carol's #sunset"
    assert shared["post"]["media"]["id"] == public["media"][0]["id"]

    sockets = {user.username: connect(client, user) for user in (alice, bob)}
    secret = await send(client, alice, group["id"], "", post_id=private["id"])
    assert secret["post"]["author"]["username"] == "dave"
    [alices] = sockets["alice"].frames()
    [bobs] = sockets["bob"].frames()
    assert alices["message"] == secret
    assert bobs["message"]["post_id"] == private["id"] and bobs["message"]["post"] is None
    history = (await client.get(path, headers=bob.headers)).json()["items"]
    assert [(m["post_id"], m["post"] is not None) for m in history] == [(private["id"], False), (public["id"], True)]

    # A post the sender cannot see is a 404, as if missing; so is a made-up one.
    before = await stored(client)
    for post_id in (private["id"], "4242"):
        assert_error(await client.post(path, headers=bob.headers, json={"post_id": post_id}), 404, "no post")
    assert await stored(client) == before

    # A deleted post leaves its id and no preview.
    assert (await client.delete(f"{POSTS}/{public['id']}", headers=carol.headers)).status_code == 204
    history = (await client.get(path, headers=alice.headers)).json()["items"]
    assert [(m["post_id"], m["post"] is not None) for m in history] == [(private["id"], True), (public["id"], False)]


async def test_a_post_of_someone_who_blocks_you_cannot_be_shared(client, alice, bob, carol):
    post = await make_post(client, carol)
    await client.post(f"/api/v1/users/{alice.username}/block", headers=carol.headers)
    thread = await start(client, alice, bob)
    response = await client.post(f"{THREADS}/{thread['id']}/messages", headers=alice.headers, json={"post_id": post["id"]})
    assert_error(response, 404, "no post")
    assert (await send(client, bob, thread["id"], "", post_id=post["id"]))["post"]["id"] == post["id"]

"""The stories module: posting, the tray, seen marks, viewers, visibility and expiry."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, in_app, state_of
from tests.graph.test_private import make_private
from tests.posts.helpers import make_media, ready_media, refcounts

STORIES = "/api/v1/stories"
HOUR_MS = 3_600_000


async def share(client, user, kind: str = "image") -> dict:
    (media_id,) = await ready_media(client, user, kind)
    response = await client.post(STORIES, headers=user.headers, json={"media_id": media_id})
    assert response.status_code == 201, response.text
    return response.json()


async def tray(client, user) -> list[dict]:
    response = await client.get(STORIES, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def follow(client, follower, followee) -> None:
    response = await client.post(f"/api/v1/users/{followee.username}/follow", headers=follower.headers)
    assert response.status_code in (200, 201), response.text


async def test_post_a_story_and_see_it_in_the_tray(client, alice, bob):
    story = await share(client, alice, "video")
    assert story["media"]["kind"] == "video" and story["seen"] is True
    assert story["expires_at"] > story["created_at"]
    await follow(client, bob, alice)
    (entry,) = await tray(client, bob)
    assert entry["user"]["username"] == "alice" and entry["has_unseen"] is True
    assert [s["id"] for s in entry["stories"]] == [story["id"]] and entry["stories"][0]["seen"] is False
    assert [e["user"]["username"] for e in await tray(client, alice)] == ["alice"]


async def test_media_that_cannot_be_shared_is_refused(client, alice, bob):
    (bobs,) = await ready_media(client, bob)
    assert_error(await client.post(STORIES, headers=alice.headers, json={"media_id": bobs}), 400, bobs)
    (processing,) = await make_media(client, alice, status="processing")
    assert_error(await client.post(STORIES, headers=alice.headers, json={"media_id": processing}), 409, "processing")
    (failed,) = await make_media(client, alice, status="failed")
    assert_error(await client.post(STORIES, headers=alice.headers, json={"media_id": failed}), 400, "failed")
    story = await share(client, alice)
    used = story["media"]["id"]
    assert_error(await client.post(STORIES, headers=alice.headers, json={"media_id": used}), 409, "already")
    response = await client.post("/api/v1/posts", headers=alice.headers, json={"media_ids": [used]})
    assert_error(response, 409, "already")
    assert_error(await client.post(STORIES, headers=alice.headers, json={"media_id": "nope"}), 400)


async def test_tray_puts_unseen_first_then_newest_and_seen_is_idempotent(client, alice, bob, carol):
    old = await share(client, alice)
    new = await share(client, carol)
    await follow(client, bob, alice)
    await follow(client, bob, carol)
    assert [e["user"]["username"] for e in await tray(client, bob)] == ["carol", "alice"]
    events = []
    service = state_of(client).stories
    emit = service.emit
    service.emit = lambda name, **payload: (events.append((name, payload)), emit(name, **payload))
    for _ in range(2):
        response = await client.post(f"{STORIES}/{new['id']}/seen", headers=bob.headers)
        assert response.status_code == 200 and response.json() == {"id": new["id"], "seen": True}
    assert events == [("story.seen", {"story_id": int(new["id"]), "author_id": int(carol.id), "viewer_id": int(bob.id)})]
    entries = await tray(client, bob)
    assert [e["user"]["username"] for e in entries] == ["alice", "carol"]
    assert [e["has_unseen"] for e in entries] == [True, False] and entries[1]["stories"][0]["seen"] is True
    assert old["id"] != new["id"]


async def test_viewers_are_for_the_author_only(client, alice, bob, carol):
    story = await share(client, alice)
    for user in (bob, carol):
        assert (await client.post(f"{STORIES}/{story['id']}/seen", headers=user.headers)).status_code == 200
    await client.post(f"{STORIES}/{story['id']}/seen", headers=alice.headers)  # not counted
    response = await client.get(f"{STORIES}/{story['id']}/viewers", headers=alice.headers)
    assert [v["user"]["username"] for v in response.json()["items"]] in (["carol", "bob"], ["bob", "carol"])
    assert {v["user"]["username"] for v in response.json()["items"]} == {"bob", "carol"}
    assert_error(await client.get(f"{STORIES}/{story['id']}/viewers", headers=bob.headers), 404, "no story")


async def test_viewers_newest_first(client, alice, bob, carol):
    story = await share(client, alice)
    service = state_of(client).stories
    start = service.clock_ms()
    for offset, user in enumerate((bob, carol)):
        service.clock_ms = lambda offset=offset: start + 1000 * (offset + 1)
        await client.post(f"{STORIES}/{story['id']}/seen", headers=user.headers)
    response = await client.get(f"{STORIES}/{story['id']}/viewers", headers=alice.headers)
    assert [v["user"]["username"] for v in response.json()["items"]] == ["carol", "bob"]


async def test_expired_stories_are_not_served_and_the_janitor_frees_their_media(client, alice, bob):
    story = await share(client, alice)
    await follow(client, bob, alice)
    service = state_of(client).stories
    keys = [variant["url"].rsplit("/", 1)[1].split(".")[0] for variant in story["media"]["variants"]]
    assert refcounts(client, keys) == [1, 1]
    assert in_app(client, service.run_once) == 0
    start = service.clock_ms()
    service.clock_ms = lambda: start + 25 * HOUR_MS
    assert await tray(client, bob) == []
    assert_error(await client.post(f"{STORIES}/{story['id']}/seen", headers=bob.headers), 404, "no story")
    assert_error(await client.get(f"{STORIES}/{story['id']}/viewers", headers=alice.headers), 404, "no story")
    assert in_app(client, service.run_once) == 1
    assert refcounts(client, keys) == [0, 0]
    media = await client.get(f"/api/v1/media/{story['media']['id']}", headers=alice.headers)
    assert media.status_code == 404


async def test_blocked_and_private_authors(client, alice, bob, carol):
    story = await share(client, alice)
    await make_private(client, alice)
    await follow(client, carol, alice)  # a request, not approved
    assert await tray(client, carol) == []
    assert_error(await client.post(f"{STORIES}/{story['id']}/seen", headers=carol.headers), 404)
    await client.post("/api/v1/follow-requests/carol/approve", headers=alice.headers)
    assert [e["user"]["username"] for e in await tray(client, carol)] == ["alice"]
    assert (await client.post(f"{STORIES}/{story['id']}/seen", headers=carol.headers)).status_code == 200
    assert_error(await client.post(f"{STORIES}/{story['id']}/seen", headers=bob.headers), 404)
    await client.post("/api/v1/users/carol/block", headers=alice.headers)
    assert await tray(client, carol) == []
    assert_error(await client.post(f"{STORIES}/{story['id']}/seen", headers=carol.headers), 404)
    response = await client.get(f"{STORIES}/{story['id']}/viewers", headers=alice.headers)
    assert response.json()["items"] == []


async def test_bad_ids_and_anonymous_callers(client, alice):
    for bad in ("abc", "0", "1", "99999999999999999999", str((1 << 62) | (4000 << 10))):
        assert_error(await client.post(f"{STORIES}/{bad}/seen", headers=alice.headers), 404, "no story")
        assert_error(await client.get(f"{STORIES}/{bad}/viewers", headers=alice.headers), 404, "no story")
    assert (await client.get(STORIES)).status_code == 401
    assert (await client.post(STORIES, json={"media_id": "1"})).status_code == 401
    assert (await client.post(f"{STORIES}/1/seen")).status_code == 401
    assert (await client.get(f"{STORIES}/1/viewers")).status_code == 401


async def test_posted_event_and_tray_size(client, alice, bob, carol):
    service = state_of(client).stories
    events = []
    emit = service.emit
    service.emit = lambda name, **payload: (events.append((name, payload)), emit(name, **payload))
    story = await share(client, alice)
    assert events == [("story.posted", {"story_id": int(story["id"]), "author_id": int(alice.id)})]
    await share(client, carol)
    await follow(client, bob, alice)
    await follow(client, bob, carol)
    service.config = type(service.config)(tray_size=1)
    assert [e["user"]["username"] for e in await tray(client, bob)] == ["carol"]

"""The harmful-media blocklist through the HTTP API, with real images through the real workers."""

from __future__ import annotations

import hashlib
from pathlib import Path

from litestar.testing import AsyncTestClient
from PIL import Image

from instamini.app import create_app
from tests.conftest import register
from tests.media.helpers import process_all, upload, upload_ready
from tests.moderation.test_moderation import admin_client, login
from tests.posts.helpers import POSTS
from tests.ranker.scenes import encoded, scene

BLOCKLIST = "/api/v1/admin/blocklist"
REASON = "matches an image on the blocklist"


def original() -> bytes:
    return encoded(scene(1, (800, 600)), "JPEG", quality=92)


def altered_copy() -> bytes:
    """The same picture, smaller and re-encoded harder: what a re-upload usually looks like."""
    return encoded(scene(1, (800, 600)).resize((500, 375), Image.Resampling.BILINEAR), "WEBP", quality=45)


async def post_image(client, user, data: bytes) -> dict:
    media = await upload_ready(client, user, data)
    response = await client.post(POSTS, headers=user.headers, json={"caption": "", "media_ids": [media["id"]]})
    assert response.status_code == 201, response.text
    return response.json()


async def upload_processed(client, user, data: bytes, filename: str = "photo.jpg") -> dict:
    response = await upload(client, user, data, filename)
    assert response.status_code == 202, response.text
    process_all(client)
    return (await client.get(f"/api/v1/media/{response.json()['id']}", headers=user.headers)).json()


def spy_on_checked_files(client) -> list[str]:
    """Blob keys the checked JPEG renditions would have had (blob keys are sha256 of the bytes)."""
    seen: list[str] = []

    async def spy(kind, phash, path):
        seen.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
        return None

    client.app.state.media.content_checks.insert(0, spy)
    return seen


async def test_a_blocked_image_is_refused_in_copies_until_unblocked(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob = await register(client, "alice"), await register(client, "bob")
        post = await post_image(client, alice, original())

        response = await client.post(BLOCKLIST, headers=root.headers, json={"post_id": post["id"], "note": "reported twice"})
        assert response.status_code == 201, response.text
        [entry] = response.json()["items"]
        assert entry["note"] == "reported twice" and entry["added_by"] == root.account["id"]
        assert isinstance(entry["id"], str) and len(entry["phash"]) == 16
        # Blocking it again (here by media id) returns the same entry.
        again = await client.post(BLOCKLIST, headers=root.headers, json={"media_id": post["media"][0]["id"]})
        assert again.status_code == 201 and again.json()["items"] == [entry]

        seen = spy_on_checked_files(client)
        blobs_before = client.blocking_portal.call(client.app.state.blobs.stats)
        refused = await upload_processed(client, bob, altered_copy(), "copy.webp")
        assert refused["status"] == "failed" and refused["reason"] == REASON, refused
        assert refused["variants"] == []
        assert client.blocking_portal.call(client.app.state.blobs.stats) == blobs_before
        assert seen
        for key in seen:  # the JPEG that was checked never became servable
            assert (await client.get(f"/media/{key}.jpg")).status_code == 404
        attempt = await client.post(POSTS, headers=bob.headers, json={"caption": "", "media_ids": [refused["id"]]})
        assert attempt.status_code == 400 and REASON in attempt.text

        unrelated = await upload_processed(client, bob, encoded(scene(7, (800, 600)), "JPEG", quality=80))
        assert unrelated["status"] == "ready", unrelated

        listed = (await client.get(BLOCKLIST, headers=root.headers)).json()["items"]
        assert listed == [entry]

    async with AsyncTestClient(create_app(config)) as client:  # the list survives a restart
        root = await login(client, "root")
        assert (await client.get(BLOCKLIST, headers=root.headers)).json()["items"] == [entry]
        refused = await upload_processed(client, bob, altered_copy())
        assert refused["reason"] == REASON

        assert (await client.delete(f"{BLOCKLIST}/{entry['id']}", headers=root.headers)).status_code == 204
        assert (await client.delete(f"{BLOCKLIST}/{entry['id']}", headers=root.headers)).status_code == 404
        assert (await client.get(BLOCKLIST, headers=root.headers)).json()["items"] == []
        allowed = await upload_processed(client, bob, altered_copy())
        assert allowed["status"] == "ready", allowed


async def test_permissions_and_bad_input(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice = await register(client, "alice")
        post = await post_image(client, alice, original())
        media_id = post["media"][0]["id"]

        assert (await client.get(BLOCKLIST)).status_code == 401
        assert (await client.post(BLOCKLIST, json={"media_id": media_id})).status_code == 401
        assert (await client.get(BLOCKLIST, headers=alice.headers)).status_code == 403
        assert (await client.post(BLOCKLIST, headers=alice.headers, json={"media_id": media_id})).status_code == 403
        assert (await client.delete(f"{BLOCKLIST}/1", headers=alice.headers)).status_code == 403

        def add(body):
            return client.post(BLOCKLIST, headers=root.headers, json=body)

        assert (await add({"media_id": media_id, "post_id": post["id"]})).status_code == 400
        assert (await add({})).status_code == 400
        assert (await add({"media_id": media_id, "note": "x" * 201})).status_code == 400
        assert (await add({"media_id": media_id, "colour": "red"})).status_code == 400
        assert (await add({"media_id": 12})).status_code == 400  # ids are strings
        assert (await add({"media_id": str(int(media_id) + 1)})).status_code == 404
        assert (await add({"post_id": media_id})).status_code == 404  # a media id is no post
        assert (await add({"post_id": "not-a-number"})).status_code == 404
        assert (await add({"media_id": "99999999999999999999"})).status_code == 404
        assert (await client.delete(f"{BLOCKLIST}/12345", headers=root.headers)).status_code == 404
        assert (await client.delete(f"{BLOCKLIST}/nope", headers=root.headers)).status_code == 404
        assert (await client.get(BLOCKLIST, headers=root.headers)).json() == {"items": []}

        # A media item still processing has no hash yet: nothing to block.
        pending = (await upload(client, alice, original())).json()
        assert (await add({"media_id": pending["id"]})).status_code == 400
        response = await add({"media_id": media_id, "note": "x" * 200})
        assert response.status_code == 201 and len(response.json()["items"]) == 1


async def test_blocking_can_remove_published_copies(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, carol, dave = [await register(client, name) for name in ("alice", "carol", "dave")]
        first = await post_image(client, alice, original())
        copy = await post_image(client, carol, altered_copy())  # published before the block
        other = await post_image(client, dave, encoded(scene(9, (640, 480)), "JPEG", quality=80))
        story_media = await upload_ready(client, dave, altered_copy())
        story = await client.post("/api/v1/stories", headers=dave.headers, json={"media_id": story_media["id"]})
        assert story.status_code == 201, story.text

        response = await client.post(BLOCKLIST, headers=root.headers, json={"media_id": copy["media"][0]["id"]})
        assert response.status_code == 201 and response.json()["removed_posts"] == []
        assert (await client.get(f"{POSTS}/{first['id']}")).status_code == 200  # left alone unless asked

        response = await client.post(
            BLOCKLIST, headers=root.headers, json={"post_id": first["id"], "remove_matching": True}
        )
        assert response.status_code == 201, response.text
        assert sorted(response.json()["removed_posts"]) == sorted([first["id"], copy["id"]])
        assert response.json()["removed_stories"] == [story.json()["id"]]  # a story's media names it as post_id
        tray = (await client.get("/api/v1/stories", headers=dave.headers)).json()
        assert all(entry["user"]["username"] != "dave" for entry in tray["items"]), tray
        for post in (first, copy):
            assert (await client.get(f"{POSTS}/{post['id']}")).status_code == 404
        assert (await client.get(f"{POSTS}/{other['id']}")).status_code == 200

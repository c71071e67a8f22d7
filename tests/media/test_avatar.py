"""PATCH /me avatar_media_id: only a ready image of your own; an avatar is never collected as unused."""

from __future__ import annotations

from tests.accounts.helpers import in_app
from tests.media.helpers import jpeg_bytes, upload, upload_ready


async def set_avatar(client, user, media_id):
    return await client.patch("/api/v1/me", json={"avatar_media_id": media_id}, headers=user.headers)


async def test_a_ready_image_of_yours_becomes_your_avatar_and_is_kept(client, alice):
    media = await upload_ready(client, alice)
    response = await set_avatar(client, alice, media["id"])
    assert response.status_code == 200 and response.json()["avatar_media_id"] == media["id"]
    assert (await client.get("/api/v1/users/alice")).json()["avatar_media_id"] == media["id"]
    assert in_app(client, client.app.state.media.collect_unused, 10**13) == 0  # in use, though in no post


async def test_other_peoples_processing_or_unknown_media_are_refused(client, alice, bob):
    bobs = await upload_ready(client, bob)
    processing = (await upload(client, alice, jpeg_bytes())).json()["id"]
    for media_id in (bobs["id"], processing, "999"):
        response = await set_avatar(client, alice, media_id)
        assert response.status_code == 400 and "ready image" in response.json()["detail"], media_id
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["avatar_media_id"] is None


async def test_an_avatar_and_a_post_never_share_one_media(client, alice):
    avatar = await upload_ready(client, alice)
    assert (await set_avatar(client, alice, avatar["id"])).status_code == 200
    response = await client.post("/api/v1/posts", json={"caption": "", "media_ids": [avatar["id"]]}, headers=alice.headers)
    assert response.status_code == 409 and "profile photo" in response.json()["detail"]

    posted = await upload_ready(client, alice)
    response = await client.post("/api/v1/posts", json={"caption": "", "media_ids": [posted["id"]]}, headers=alice.headers)
    assert response.status_code == 201
    assert (await set_avatar(client, alice, posted["id"])).status_code == 400

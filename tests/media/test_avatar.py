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


async def test_everyone_sees_the_avatar_url_its_smallest_webp_and_unsetting_clears_it(client, alice, bob):
    media = await upload_ready(client, alice)
    smallest = min((v for v in media["variants"] if v["role"] == "image"), key=lambda v: v["width"])
    await set_avatar(client, alice, media["id"])
    assert (await client.get("/api/v1/users/alice", headers=bob.headers)).json()["avatar_url"] == smallest["url"]
    followed = await client.post("/api/v1/users/alice/follow", headers=bob.headers)
    assert followed.status_code == 200
    following = (await client.get("/api/v1/users/bob/following", headers=bob.headers)).json()["items"]
    assert [user["avatar_url"] for user in following] == [smallest["url"]]
    assert (await set_avatar(client, alice, None)).json()["avatar_url"] is None
    assert (await client.get("/api/v1/users/alice", headers=bob.headers)).json()["avatar_url"] is None


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


def test_avatars_chosen_before_avatar_url_existed_get_theirs_at_upgrade(tmp_path):
    import json
    import sqlite3

    from instamini.accounts.migrations import MIGRATIONS as ACCOUNTS
    from instamini.media.migrations import MIGRATIONS as MEDIA
    from instamini.stores.meta import apply_migrations

    conn = sqlite3.connect(tmp_path / "shard.sqlite", isolation_level=None)
    apply_migrations(conn, {"accounts": ACCOUNTS[:1], "media": MEDIA[:2]})  # a data directory of before
    variants = [{"key": "b" * 64, "role": "image", "content_type": "image/webp", "width": 640, "height": 480, "bytes": 9},
                {"key": "a" * 64, "role": "image", "content_type": "image/webp", "width": 320, "height": 240, "bytes": 5},
                {"key": "c" * 64, "role": "fallback", "content_type": "image/jpeg", "width": 320, "height": 240, "bytes": 7}]
    conn.execute("INSERT INTO media (id, owner_id, kind, status, variants, upload_bytes, created_ms) "
                 "VALUES (7, 1, 'image', 'ready', ?, 10, 0)", (json.dumps(variants),))
    conn.execute("INSERT INTO users (id, username, avatar_media_id, password_hash) VALUES (1, 'ann', 7, 'x')")
    conn.execute("INSERT INTO users (id, username, password_hash) VALUES (2, 'ben', 'x')")
    apply_migrations(conn, {"accounts": ACCOUNTS, "media": MEDIA})
    urls = dict(conn.execute("SELECT username, avatar_url FROM users").fetchall())
    assert urls == {"ann": f"/media/{'a' * 64}.webp", "ben": None}

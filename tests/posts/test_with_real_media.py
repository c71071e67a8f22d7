"""A post made of media that went through the real pipeline: upload, process, post, serve, delete."""

from __future__ import annotations

from tests.accounts.helpers import in_app
from tests.media import samples
from tests.media.helpers import jpeg_bytes, process_all, upload, upload_ready


def key_of(url: str) -> str:
    return url.rsplit("/", 1)[1].split(".")[0]


async def test_upload_post_serve_and_delete(client, alice, bob):
    photos = [await upload_ready(client, alice, jpeg_bytes((800, 600), (i * 60, 0, 0))) for i in range(3)]
    body = {"caption": "three reds #red @bob", "media_ids": [p["id"] for p in photos], "alt_texts": {photos[0]["id"]: "dark red"}}
    response = await client.post("/api/v1/posts", json=body, headers=alice.headers)
    assert response.status_code == 201, response.text
    post = response.json()
    assert [m["id"] for m in post["media"]] == [p["id"] for p in photos]
    assert post["media"][0]["alt_text"] == "dark red" and post["hashtags"] == ["red"] and post["mentions"] == ["bob"]

    seen_by_bob = (await client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)).json()
    for item in seen_by_bob["media"]:
        for variant in item["variants"]:
            served = await client.get(variant["url"])
            assert served.status_code == 200 and served.headers["content-type"] == variant["content_type"]
    keys = {key_of(v["url"]) for item in post["media"] for v in item["variants"]}
    assert all(in_app(client, client.app.state.blobs.refcount, key) == 1 for key in keys)

    assert (await client.delete(f"/api/v1/posts/{post['id']}", headers=alice.headers)).status_code in (200, 204)
    assert all(in_app(client, client.app.state.blobs.refcount, key) == 0 for key in keys)
    in_app(client, client.app.state.blobs.gc, 0)
    for key in keys:
        assert (await client.get(f"/media/{key}.webp")).status_code == 404


async def test_a_reel_is_one_processed_video(client, alice, tmp_path):
    path = samples.mp4(tmp_path / "clip.mp4", seconds=1)
    video = (await upload(client, alice, path.read_bytes(), "clip.mp4")).json()
    process_all(client)
    response = await client.post("/api/v1/posts", json={"caption": "", "media_ids": [video["id"]], "kind": "reel"}, headers=alice.headers)
    assert response.status_code == 201, response.text
    roles = {v["role"] for v in response.json()["media"][0]["variants"]}
    assert {"video", "poster"} <= roles

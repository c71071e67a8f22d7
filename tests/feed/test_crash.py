"""SIGKILL under load: every acknowledged post is in every follower's feed after a restart."""

from __future__ import annotations

import signal
import threading

import httpx

from instamini.bench.server import ServerProcess
from tests.media.helpers import jpeg_bytes
from tests.media.test_server import wait_until_processed

LIMITS = """
[accounts]
registrations_per_address_per_minute = 10000
[media]
uploads_per_address_per_minute = 10000
"""


def account(client: httpx.Client, name: str) -> dict:
    body = client.post("/api/v1/accounts", json={"username": name, "password": "correct horse"}).json()
    return {"Authorization": f"Bearer {body['token']}"}


def whole_feed(client: httpx.Client, headers: dict) -> list[str]:
    ids, cursor = [], None
    while True:
        params = {"order": "chronological", "limit": 50} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/feed", params=params, headers=headers).json()
        ids += [item["id"] for item in body["items"]]
        if (cursor := body["next_cursor"]) is None:
            return ids


def test_acknowledged_posts_survive_a_sigkill(tmp_path):
    config = tmp_path / "crash.toml"
    config.write_text(LIMITS)
    data = tmp_path / "data"
    acknowledged: list[str] = []
    with ServerProcess(config, data) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        poster = account(client, "poster")
        fans = [account(client, f"fan{i}") for i in range(3)]
        for fan in fans:
            assert client.post("/api/v1/users/poster/follow", headers=fan).status_code == 200
            whole_feed(client, fan)  # their timelines exist and receive fan-out
        media = []
        for i in range(24):
            uploaded = client.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes((64, 64), (i * 10, 0, 0)))}, headers=poster)
            media.append(uploaded.json()["id"])
        for media_id in media:
            assert wait_until_processed(client, media_id, poster)["status"] == "ready"

        readers_stop = threading.Event()

        def read_feeds() -> None:
            with httpx.Client(base_url=server.url, timeout=5) as reader:
                while not readers_stop.is_set():
                    try:
                        reader.get("/api/v1/feed", params={"limit": 10}, headers=fans[0])
                    except httpx.HTTPError:
                        return  # the server was killed

        reader = threading.Thread(target=read_feeds)
        reader.start()
        try:
            for i, media_id in enumerate(media):
                if i == 16:
                    server.stop(signal.SIGKILL)  # mid-stream: fan-out of the last posts may be unfinished
                try:
                    response = client.post("/api/v1/posts", json={"caption": f"#{i}", "media_ids": [media_id]}, headers=poster)
                except httpx.HTTPError:
                    break
                assert response.status_code == 201, response.text
                acknowledged.append(response.json()["id"])
        finally:
            readers_stop.set()
            reader.join()
    assert len(acknowledged) == 16
    with ServerProcess(config, data) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        for i, fan in enumerate(fans):
            login = client.post("/api/v1/sessions", json={"username": f"fan{i}", "password": "correct horse"}).json()
            feed = whole_feed(client, {"Authorization": f"Bearer {login['token']}"})
            assert set(acknowledged) <= set(feed), (i, sorted(set(acknowledged) - set(feed)))
            assert feed == sorted(feed, key=int, reverse=True)

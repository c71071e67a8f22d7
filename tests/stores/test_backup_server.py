"""End to end on the real server: a backup taken under load restores every write acknowledged before it began."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from instamini.bench.server import ServerProcess
from tests.conftest import FAST_TOML, REPO
from tests.media.helpers import jpeg_bytes
from tests.media.test_server import wait_until_processed

FANS = 30  # each likes the post once, during the load
SPARE_PHOTOS = 4  # posted during the load


def server_config(tmp_path: Path) -> Path:
    text = FAST_TOML.format(data_dir=tmp_path / "unused", plugins=REPO / "plugins")
    background = text.replace("[media]\nbackground_jobs = false", "[media]\nbackground_jobs = true")
    assert background != text  # the real server processes uploads itself
    config_file = tmp_path / "config.toml"
    config_file.write_text(background)
    return config_file


def register(http: httpx.Client, username: str) -> dict[str, str]:
    response = http.post("/api/v1/accounts", json={"username": username, "password": "correct horse"})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def ready_photo(http: httpx.Client, headers: dict, shade: int) -> str:
    response = http.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes((320, 240), (shade, 90, 30)))}, headers=headers)
    assert response.status_code == 202, response.text
    assert wait_until_processed(http, response.json()["id"], headers)["status"] == "ready"
    return response.json()["id"]


class Load(threading.Thread):
    """Posts, likes and comments through the API until stopped; notes when each write was acknowledged."""

    def __init__(self, url: str, author: dict, fans: list[dict], post_id: str, photos: list[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.author, self.fans, self.post_id, self.photos = url, author, list(fans), post_id, list(photos)
        self.acknowledged: list[tuple[str, str, float]] = []  # (kind, what, when)
        self.stop, self.warm = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=30) as http:
                n = 0
                while not self.stop.is_set():
                    n += 1
                    self._comment(http, n)
                    if self.fans:
                        self._like(http)
                    if self.photos:
                        self._post(http, n)
                    if n >= 5:
                        self.warm.set()
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error
            self.warm.set()

    def _ack(self, kind: str, what: str, response: httpx.Response) -> None:
        assert response.status_code in (200, 201), response.text
        self.acknowledged.append((kind, what, time.monotonic()))

    def _comment(self, http: httpx.Client, n: int) -> None:
        response = http.post(f"/api/v1/posts/{self.post_id}/comments", json={"text": f"comment {n}"}, headers=self.author)
        self._ack("comment", response.json()["id"], response)

    def _like(self, http: httpx.Client) -> None:
        fan = self.fans.pop()
        self._ack("like", fan["Authorization"], http.post(f"/api/v1/posts/{self.post_id}/like", headers=fan))

    def _post(self, http: httpx.Client, n: int) -> None:
        body = {"caption": f"posted under load {n}", "media_ids": [self.photos.pop()]}
        response = http.post("/api/v1/posts", json=body, headers=self.author)
        self._ack("post", response.json()["id"], response)


def admin(*args: str, config_file: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "instamini", "admin", *args, "--config", str(config_file)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)


def comment_ids(http: httpx.Client, post_id: str) -> set[str]:
    found, cursor = set(), None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = http.get(f"/api/v1/posts/{post_id}/comments", params=params).json()
        found |= {comment["id"] for comment in page["items"]}
        if not (cursor := page["next_cursor"]):
            return found


def test_a_backup_under_load_restores_every_write_acknowledged_before_it(tmp_path):
    config_file, live, backup, restored = server_config(tmp_path), tmp_path / "live", tmp_path / "backup", tmp_path / "restored"
    with ServerProcess(config_file, live) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        alice, bob = register(http, "alice"), register(http, "bob")
        fans = [register(http, f"fan{i}") for i in range(FANS)]
        photos = [ready_photo(http, alice, 40 * i) for i in range(1 + SPARE_PHOTOS)]
        post = http.post("/api/v1/posts", json={"caption": "the first", "media_ids": photos[:1]}, headers=alice).json()
        assert http.post(f"/api/v1/posts/{post['id']}/like", headers=bob).status_code in (200, 201)
        image_url = post["media"][0]["variants"][0]["url"]
        image = http.get(image_url).content
        load = Load(server.url, alice, fans, post["id"], photos[1:])
        load.start()
        try:
            assert load.warm.wait(60) and load.error is None, load.error
            started = time.monotonic()
            made = admin("backup", str(backup), "--data-dir", str(live), config_file=config_file)
            ended = time.monotonic()
        finally:
            load.stop.set()
            load.join(60)
        assert load.error is None, load.error
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"backup of {live} in {backup}: 4 shards"), made.stdout
        during = [write for write in load.acknowledged if started <= write[2] <= ended]
        assert during, "the server should keep acknowledging writes while the backup runs"
        in_use = admin("restore", str(backup), "--data-dir", str(live), "--force", config_file=config_file)
        assert in_use.returncode == 2 and "is in use" in in_use.stderr, in_use.stderr
    before = [(kind, what) for kind, what, when in load.acknowledged if when < started]

    put_back = admin("restore", str(backup), "--data-dir", str(restored), config_file=config_file)
    assert put_back.returncode == 0, put_back.stderr
    with ServerProcess(config_file, restored) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/api/v1/users/alice").status_code == 200
        seen = http.get(f"/api/v1/posts/{post['id']}", headers=bob).json()
        assert seen["caption"] == "the first" and seen["liked"] is True
        assert http.get(image_url).content == image
        comments = comment_ids(http, post["id"])
        for kind, what in before:
            if kind == "comment":
                assert what in comments, f"comment {what} was acknowledged before the backup began"
            elif kind == "like":
                assert http.get(f"/api/v1/posts/{post['id']}", headers={"Authorization": what}).json()["liked"] is True
            else:
                assert http.get(f"/api/v1/posts/{what}").status_code == 200, f"post {what} is missing"
        assert seen["like_count"] >= 1 + sum(kind == "like" for kind, _ in before)
        assert len(before) >= 5 and {kind for kind, _ in before} == {"comment", "like", "post"}

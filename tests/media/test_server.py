"""End to end on the real server: upload, background processing in worker processes, serving."""

from __future__ import annotations

import os
import time

import httpx

from instamini.bench.server import ServerProcess
from tests.media.helpers import jpeg_bytes


def wait_until_processed(client: httpx.Client, media_id: str, headers: dict, timeout: float = 60.0) -> dict:
    """Poll the status route: the job runs in another process, on the server's schedule."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        media = client.get(f"/api/v1/media/{media_id}", headers=headers).json()
        if media["status"] != "processing":
            return media
        time.sleep(0.05)
    raise AssertionError(f"media {media_id} still processing after {timeout} s")


def test_upload_is_processed_in_the_background_and_served(tmp_path):
    with ServerProcess(None, tmp_path / "data") as server, httpx.Client(base_url=server.url, timeout=30) as client:
        token = client.post("/api/v1/accounts", json={"username": "alice", "password": "correct horse"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        response = client.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes((1600, 1200)))}, headers=headers)
        assert response.status_code == 202, response.text
        media = wait_until_processed(client, response.json()["id"], headers)
        assert media["status"] == "ready" and [v["width"] for v in media["variants"] if v["role"] == "image"] == [1080, 640, 320]
        url = media["variants"][0]["url"]
        whole = client.get(url)
        assert whole.status_code == 200 and whole.headers["content-type"] == "image/webp"
        part = client.get(url, headers={"Range": "bytes=0-11"})
        assert part.status_code == 206 and part.content == whole.content[:12]
        assert client.get(url, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304
        workers = _children(server.process.pid)
        assert len(workers) >= 3, workers  # granian's worker and two media workers
    assert server.process.returncode == 0
    assert all(not os.path.exists(f"/proc/{pid}") for pid in workers)  # the pool went down with the server


def _children(pid: int) -> list[int]:
    """Every descendant of pid (granian's worker, and its media workers)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in os.listdir(f"/proc/{parent}/task"):
            try:
                with open(f"/proc/{parent}/task/{task}/children") as file:
                    kids = [int(child) for child in file.read().split()]
            except OSError:
                kids = []
            found += kids
            todo += kids
    return found

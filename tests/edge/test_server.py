"""End to end: `python -m instamini edge` as a process in front of a real instamini server process."""

from __future__ import annotations

import httpx

from instamini.bench.server import EdgeProcess, ServerProcess
from tests.edge.helpers import metric
from tests.media.helpers import jpeg_bytes
from tests.media.test_server import wait_until_processed


def test_the_second_fetch_of_a_blob_is_an_edge_hit(tmp_path):
    with (
        ServerProcess(None, tmp_path / "origin" / "data") as server,
        EdgeProcess([server.url], tmp_path / "edge" / "cache") as edge,
        httpx.Client(base_url=edge.url, timeout=30) as client,
    ):
        # Registration, upload and status go through the edge to the origin: it is the only address used.
        token = client.post("/api/v1/accounts", json={"username": "alice", "password": "correct horse"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        response = client.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes((800, 600)))}, headers=headers)
        assert response.status_code == 202, response.text
        media = wait_until_processed(client, response.json()["id"], headers)
        url = media["variants"][0]["url"]

        first, second = client.get(url), client.get(url)
        assert first.status_code == second.status_code == 200 and first.content == second.content
        assert first.content == httpx.get(server.url + url).content  # what the origin itself serves
        assert second.headers["etag"] == first.headers["etag"] and "immutable" in second.headers["cache-control"]
        text = client.get("/metrics").text
        assert metric(text, "instamini_edge_misses_total") == 1
        assert metric(text, "instamini_edge_hits_total") == 1
        assert metric(text, "instamini_edge_hit_ratio") == 0.5
        assert metric(text, "instamini_edge_cache_bytes") == len(first.content)
        assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert edge.process.returncode == 0 and server.process.returncode == 0

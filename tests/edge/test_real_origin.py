"""The edge in front of the real instamini app (in-process, on a temporary data directory)."""

from __future__ import annotations

from tests.edge.helpers import Streaming, edge_client, edge_settings
from tests.media.helpers import upload_ready

SAME_HEADERS = ("content-type", "content-length", "etag", "cache-control", "x-content-type-options",
                "content-security-policy", "cross-origin-resource-policy", "accept-ranges", "content-range")


async def test_media_through_the_edge_is_what_the_origin_serves(client, alice, tmp_path):
    media = await upload_ready(client, alice)
    urls = [variant["url"] for variant in media["variants"]]
    async with edge_client(edge_settings(tmp_path / "edge"), Streaming(client._transport)) as edge:
        for url in urls:
            for headers in ({}, {"Range": "bytes=10-99"}):
                direct, edged = await client.get(url, headers=headers), await edge.get(url, headers=headers)
                assert edged.status_code == direct.status_code and edged.content == direct.content
                assert {h: edged.headers.get(h) for h in SAME_HEADERS} == {h: direct.headers.get(h) for h in SAME_HEADERS}
        cache = edge.app.state.edge.cache
        assert cache.misses == len(urls) and cache.hits == len(urls)  # each file fetched once, then served by the edge


async def test_the_api_passes_through_with_its_bearer_token(client, alice, tmp_path):
    async with edge_client(edge_settings(tmp_path / "edge"), Streaming(client._transport)) as edge:
        me = await edge.get("/api/v1/me", headers=alice.headers)
        assert me.status_code == 200 and me.json()["username"] == "alice"
        anonymous = await edge.get("/api/v1/me")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert (await edge.get("/schema/openapi.json")).json()["info"]["title"] == "instamini"


async def test_a_browser_on_the_edges_address_may_log_in_through_it(client, alice, tmp_path):
    """The origin's login-CSRF check compares Origin with Host: the edge keeps the client's Host."""
    login = {"username": "alice", "password": "correct horse"}
    async with edge_client(edge_settings(tmp_path / "edge"), Streaming(client._transport)) as edge:
        same_site = await edge.post("/api/v1/sessions", json=login, headers={"Origin": "http://testserver.local"})
        assert same_site.status_code == 201 and "instamini_session" in same_site.headers.get("set-cookie", "")
        forged = await edge.post("/api/v1/sessions", json=login, headers={"Origin": "https://evil.example"})
        assert forged.status_code == 403

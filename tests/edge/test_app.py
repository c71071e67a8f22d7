"""The edge app in-process, in front of a fake origin: media from the cache, everything else passed through."""

from __future__ import annotations

import httpx
import pytest

from instamini.bench.server import free_port
from tests.edge.helpers import ORIGIN, FakeOrigin, edge_client, edge_settings, media_file, metric

BIG = 2 << 20  # over 1 MiB: streamed from an open file, not read whole


@pytest.fixture
def origin() -> FakeOrigin:
    return FakeOrigin()


@pytest.fixture
async def edge(tmp_path, origin):
    async with edge_client(edge_settings(tmp_path / "edge", max_size="8M"), origin.transport) as client:
        yield client


async def test_second_request_is_a_hit_with_the_origins_headers(edge, origin):
    name, body = origin.add(5000)
    first, second = await edge.get(f"/media/{name}"), await edge.get(f"/media/{name}")
    for response in (first, second):
        assert response.status_code == 200 and response.content == body
        headers = response.headers
        assert headers["content-type"] == "image/webp" and headers["etag"] == f'"{name[:64]}"'
        assert headers["cache-control"] == "public, max-age=31536000, immutable"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert headers["accept-ranges"] == "bytes" and headers["content-length"] == "5000"
    assert len(origin.media_requests()) == 1
    text = (await edge.get("/metrics")).text
    assert metric(text, "instamini_edge_hits_total") == 1 and metric(text, "instamini_edge_misses_total") == 1
    assert metric(text, "instamini_edge_hit_ratio") == 0.5
    assert metric(text, "instamini_edge_served_bytes_total") == 10_000
    assert metric(text, "instamini_edge_cache_bytes") == 5000 and metric(text, "instamini_edge_evictions_total") == 0


async def test_the_content_type_follows_the_extension_asked_for(edge, origin):
    name, body = origin.add(300, ext="jpg")
    response = await edge.get(f"/media/{name}")
    assert response.headers["content-type"] == "image/jpeg" and response.content == body


@pytest.mark.parametrize("size", [5000, BIG])
async def test_ranges_on_a_miss_and_on_a_hit(edge, origin, size):
    name, body = origin.add(size)
    for _ in range(2):
        response = await edge.get(f"/media/{name}", headers={"Range": "bytes=100-1099"})
        assert response.status_code == 206 and response.content == body[100:1100]
        assert response.headers["content-range"] == f"bytes 100-1099/{size}"
        assert response.headers["content-length"] == "1000"
    tail = await edge.get(f"/media/{name}", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == body[-10:]
    whole = await edge.get(f"/media/{name}")
    assert whole.content == body
    assert len(origin.media_requests()) == 1  # the edge fetched the whole file once, and cut the ranges itself


async def test_unsatisfiable_range_is_416(edge, origin):
    name, _ = origin.add(5000)
    response = await edge.get(f"/media/{name}", headers={"Range": "bytes=5000-"})
    assert response.status_code == 416 and response.headers["content-range"] == "bytes */5000"


async def test_if_none_match_is_304_and_if_range_with_an_old_etag_sends_everything(edge, origin):
    name, body = origin.add(BIG)
    etag = f'"{name[:64]}"'
    not_modified = await edge.get(f"/media/{name}", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified.headers["etag"] == etag
    stale = await edge.get(f"/media/{name}", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == body
    fresh = await edge.get(f"/media/{name}", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == body[:10]


async def test_head_sends_headers_only(edge, origin):
    name, _ = origin.add(BIG)
    response = await edge.head(f"/media/{name}")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(BIG) and response.headers["content-type"] == "image/webp"


@pytest.mark.parametrize(
    "path",
    [
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/" + "g" * 64 + ".webp",
        "/media/" + "a" * 64 + ".html",
        "/media/" + "A" * 64 + ".jpg",
        "/media/" + "a" * 64,
        "/media/" + "a" * 63 + ".webp",
        "/media/" + "a" * 64 + ".webp%0A",
    ],
)
async def test_hostile_names_are_404_without_asking_the_origin(edge, origin, path):
    response = await edge.get(path)
    assert response.status_code == 404
    assert origin.requests == []


async def test_a_file_no_origin_has_is_404_and_not_cached(edge, origin):
    name, _ = media_file(100, seed=42)
    assert (await edge.get(f"/media/{name}")).status_code == 404
    assert (await edge.get(f"/media/{name}")).status_code == 404
    assert len(origin.media_requests()) == 2  # a 404 is not remembered: the file may be uploaded later


async def test_wrong_bytes_from_the_origin_are_502_and_not_cached(edge, origin):
    name, _ = origin.add(5000, seed=1)
    origin.files[name] = media_file(5000, seed=2)[1]  # a broken origin: right name, other bytes
    response = await edge.get(f"/media/{name}")
    assert response.status_code == 502 and "sha256" in response.json()["detail"]
    assert metric((await edge.get("/metrics")).text, "instamini_edge_refused_total") == 1
    origin.files[name] = media_file(5000, seed=1)[1]
    assert (await edge.get(f"/media/{name}")).status_code == 200  # fetched again, not served from a bad copy


async def test_a_file_larger_than_the_cache_is_passed_through_uncached(tmp_path, origin):
    name, body = origin.add(3000)
    async with edge_client(edge_settings(tmp_path / "edge", max_size="2K"), origin.transport) as edge:
        response = await edge.get(f"/media/{name}")
        assert response.status_code == 200 and response.content == body
        assert edge.app.state.edge.cache.cached() == []


async def test_origin_down_is_502_and_nothing_is_cached(tmp_path):
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    name, _ = media_file(100)
    async with edge_client(edge_settings(tmp_path / "edge", origins=[down]), None) as edge:
        response = await edge.get(f"/media/{name}")
        assert response.status_code == 502
        assert "no origin answered" in response.json()["detail"] and down in response.json()["detail"]
        assert (await edge.get("/api/v1/me")).status_code == 502
        assert edge.app.state.edge.cache.cached() == []
    assert [p for p in (tmp_path / "edge").rglob("*") if p.is_file()] == []


async def test_origin_timeout_is_504(edge, origin):
    name, _ = origin.add(100)
    origin.failure = httpx.ReadTimeout("the origin is stuck")
    response = await edge.get(f"/media/{name}")
    assert response.status_code == 504
    assert (await edge.get("/api/v1/me")).status_code == 504
    origin.failure = None
    assert (await edge.get(f"/media/{name}")).status_code == 200


async def test_fails_over_to_the_next_origin(tmp_path, origin):
    down = f"http://127.0.0.1:{free_port()}"
    name, body = origin.add(5000)

    async def first_down(request: httpx.Request) -> httpx.Response:
        if request.url.port != 8000:
            raise httpx.ConnectError("connection refused")
        return await origin.handle(request)

    settings = edge_settings(tmp_path / "edge", origins=[down, ORIGIN])
    async with edge_client(settings, httpx.MockTransport(first_down)) as edge:
        assert (await edge.get(f"/media/{name}")).content == body
        assert (await edge.get("/api/v1/me")).status_code == 200
        assert edge.app.state.edge.origins.urls[edge.app.state.edge.origins._preferred] == ORIGIN


async def test_other_paths_pass_through_with_method_headers_body_and_status(edge, origin):
    response = await edge.post(
        "/api/v1/posts?draft=1&tag=%23cats",
        content=b'{"caption": "hi"}',
        headers={"Authorization": "Bearer secret-token", "Content-Type": "application/json",
                 "Connection": "keep-alive, x-private", "X-Private": "not for the origin"},
    )
    assert response.status_code == 201
    echo = response.json()
    assert echo["method"] == "POST" and echo["path"] == "/api/v1/posts?draft=1&tag=%23cats"
    assert echo["body"] == '{"caption": "hi"}'
    sent = echo["headers"]
    assert sent["authorization"] == "Bearer secret-token" and sent["content-type"] == "application/json"
    assert "x-private" not in sent  # named by Connection: hop-by-hop
    assert sent["host"] == "testserver.local" and sent["x-forwarded-proto"] == "http"  # the client's Host, kept
    assert sent["x-forwarded-host"] == "testserver.local" and sent["x-forwarded-for"]
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"] and response.headers["x-origin"] == "yes"
    assert "x-secret" not in response.headers  # named by the origin's Connection header
    assert (await edge.get("/")).json()["path"] == "/"
    assert (await edge.delete("/api/v1/posts/1")).json()["method"] == "DELETE"
    assert (await edge.head("/api/v1/me")).content == b""
    assert origin.media_requests() == []


async def test_the_edges_own_routes(edge, origin):
    assert (await edge.get("/healthz")).json() == {"status": "ok", "role": "edge"}
    text = (await edge.get("/metrics")).text
    for name in ("instamini_edge_hits_total", "instamini_edge_misses_total", "instamini_edge_hit_ratio",
                 "instamini_edge_served_bytes_total", "instamini_edge_evictions_total", "instamini_edge_cache_bytes"):
        assert name in text
    assert origin.requests == []

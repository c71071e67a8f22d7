"""GET /media/{key}: immutable caching, ETag, Range, and headers that stop a browser running it."""

from __future__ import annotations

import pytest

from instamini.errors import NotFound
from instamini.media.serve import RangeNotSatisfiable, parse_name, parse_range
from tests.accounts.helpers import in_app

BODY = bytes(range(256)) * 8192  # 2 MiB: big enough to be streamed, not read whole


def put(client, data: bytes) -> str:
    return in_app(client, client.app.state.blobs.put_bytes, data).key


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, None),
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=-100", (900, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=990-5000", (990, 1000)),
        ("bytes=0-0", (0, 1)),
        ("bytes=0-1,5-9", None),  # several ranges: we may send it all
        ("items=0-9", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=9-3"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize("name", ["x.webp", "../../etc/passwd", "a" * 64 + ".html", "a" * 64, "A" * 64 + ".jpg", "a" * 64 + ".jpg\n"])
def test_only_our_own_names_resolve(name):
    with pytest.raises(NotFound):
        parse_name(name)


async def test_whole_file_with_safe_headers(client):
    key = put(client, BODY)
    response = await client.get(f"/media/{key}.mp4")
    assert response.status_code == 200 and response.content == BODY
    headers = response.headers
    assert headers["content-type"] == "video/mp4"
    assert headers["etag"] == f'"{key}"'
    assert "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"] and "default-src 'none'" in headers["content-security-policy"]
    assert headers["accept-ranges"] == "bytes"
    assert int(headers["content-length"]) == len(BODY)


async def test_content_type_comes_from_the_extension_we_wrote(client):
    key = put(client, b"<html><script>alert(1)</script></html>")
    response = await client.get(f"/media/{key}.webp")
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_if_none_match_is_304_without_a_body(client):
    key = put(client, b"small image bytes")
    response = await client.get(f"/media/{key}.jpg", headers={"If-None-Match": f'W/"x", "{key}"'})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == f'"{key}"'
    other = await client.get(f"/media/{key}.jpg", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == b"small image bytes"


@pytest.mark.parametrize("start, end", [(0, 99), (1_000_000, 1_500_000), (len(BODY) - 10, len(BODY) - 1)])
async def test_range_requests_seek(client, start, end):
    key = put(client, BODY)
    response = await client.get(f"/media/{key}.mp4", headers={"Range": f"bytes={start}-{end}"})
    assert response.status_code == 206
    assert response.content == BODY[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(BODY)}"
    assert int(response.headers["content-length"]) == end - start + 1


async def test_range_past_the_end_is_416(client):
    key = put(client, b"0123456789")
    response = await client.get(f"/media/{key}.mp4", headers={"Range": "bytes=10-"})
    assert response.status_code == 416 and response.headers["content-range"] == "bytes */10"


async def test_if_range_with_another_etag_sends_everything(client):
    key = put(client, b"0123456789")
    response = await client.get(f"/media/{key}.mp4", headers={"Range": "bytes=2-3", "If-Range": '"old"'})
    assert response.status_code == 200 and response.content == b"0123456789"
    response = await client.get(f"/media/{key}.mp4", headers={"Range": "bytes=2-3", "If-Range": f'"{key}"'})
    assert response.status_code == 206 and response.content == b"23"


async def test_head_gives_the_headers_only(client):
    key = put(client, BODY)
    response = await client.head(f"/media/{key}.mp4")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["etag"] == f'"{key}"'


async def test_unknown_and_hostile_names_are_404(client):
    assert (await client.get(f"/media/{'0' * 64}.jpg")).status_code == 404
    assert (await client.get("/media/..%2F..%2Fetc%2Fpasswd")).status_code == 404
    assert (await client.get(f"/media/{'a' * 64}.html")).status_code == 404


async def test_the_openapi_document_names_every_answer_of_a_file(client):
    responses = client.app.openapi_schema.to_schema()["paths"]["/media/{name}"]["get"]["responses"]
    assert {"200", "206", "304", "404", "416"} <= responses.keys()
    assert "content" not in responses["206"]  # a slice of the file's bytes, as the 200 is the whole

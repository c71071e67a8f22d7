"""Serving media bytes: immutable caching, ETag, Range requests, and a locked-down response.

The idea: a blob's key is the hash of its bytes, so the URL of a file never
changes what it points to. Browsers and the edge cache may keep it forever
(`Cache-Control: immutable`), the ETag is the key itself (so `If-None-Match` is a
string compare, no disk read), and a `Range` request (a video player seeking)
is a seek into the file. The Content-Type comes from our own output format (the
URL's extension is one of three we write), never from the bytes, and
`nosniff` plus a sandboxing CSP make sure a browser never runs what it gets.

Cost: one thread hop per request for a file under 1 MiB (size and bytes at
once); larger ones are streamed in 256 KiB chunks, one hop each. The edge cache
answers with the same `immutable_response`, from its own copy of the bytes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from ..errors import NotFound
from ..stores.blobs import BlobStore
from .records import CONTENT_TYPES

_NAME = re.compile(r"([0-9a-f]{64})\.(webp|jpg|mp4)")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
CHUNK = 256 * 1024
# Read whole below this size: one thread hop beats streaming machinery for thumbnails.
WHOLE_BELOW = 1 << 20

SAFE_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-site",
    "Accept-Ranges": "bytes",
}


class RangeNotSatisfiable(Exception):
    pass


def parse_name(name: str) -> tuple[str, str]:
    """`<sha256>.<ext>` -> (key, content type); anything else is a 404."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise NotFound("no such media file")
    return match.group(1), CONTENT_TYPES[match.group(2)]


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """One byte range as (start, end exclusive); None means send the whole file.

    A header we do not understand, or several ranges, is ignored (RFC 9110 lets a
    server answer 200 with everything); a range wholly past the end is a 416.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # "bytes=-500": the last 500 bytes
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable
        return max(0, size - suffix), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable
    return start, end


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


async def _chunks(blobs: BlobStore, key: str, start: int, end: int) -> AsyncIterator[bytes]:
    for offset in range(start, end, CHUNK):
        yield await blobs.read(key, offset, min(offset + CHUNK, end))


async def media_response(blobs: BlobStore, name: str, headers, head_only: bool = False) -> ASGIResponse:
    key, content_type = parse_name(name)
    found = await blobs.read_if_smaller(key, WHOLE_BELOW)
    if found is None:
        raise NotFound("no such media file")
    size, whole = found
    return immutable_response(
        key, content_type, size, headers, whole=whole,
        chunks=lambda start, end: _chunks(blobs, key, start, end), head_only=head_only,
    )


def immutable_response(
    key: str, content_type: str, size: int, headers, *, whole: bytes | None,
    chunks: Callable[[int, int], AsyncIterator[bytes]], head_only: bool = False,
) -> ASGIResponse:
    """The answer for a content-addressed file, wherever its bytes are (blob store, edge cache).

    `whole` is the file's bytes if they are at hand; otherwise `chunks(start, end)` streams
    that slice and is called only when a body is sent (not for 304, 416 or HEAD).
    """
    etag = f'"{key}"'
    common = {**SAFE_HEADERS, "ETag": etag}
    if _etag_matches(headers.get("if-none-match"), etag):
        return ASGIResponse(status_code=304, headers=common)
    if_range = headers.get("if-range")
    try:
        wanted = None if if_range and if_range != etag else parse_range(headers.get("range"), size)
    except RangeNotSatisfiable:
        return ASGIResponse(status_code=416, headers={**common, "Content-Range": f"bytes */{size}"})
    start, end = wanted or (0, size)
    status = 200 if wanted is None else 206
    out = {**common, "Content-Length": str(end - start)}
    if wanted is not None:
        out["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    # ASGI responses themselves: Litestar's Stream would let the handler's default
    # media type (JSON) win over ours.
    if head_only:  # Litestar sets no Content-Type on a HEAD response: it is ours to give
        return ASGIResponse(status_code=status, headers={**out, "Content-Type": content_type}, is_head_response=True)
    if whole is not None:
        return ASGIResponse(body=whole[start:end], status_code=status, headers=out, media_type=content_type)
    return ASGIStreamingResponse(iterator=chunks(start, end), status_code=status, headers=out, media_type=content_type)

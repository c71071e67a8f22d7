"""Passing every request that is not media on to an origin: a small reverse proxy.

The idea: an edge stands where the instance stood, so the browser app, the JSON API
and uploads keep working through it. Method, path and query, headers, body and
status go through unchanged, both bodies streamed. Only hop-by-hop headers (RFC 9110
section 7.6.1: Connection and those it names, Keep-Alive, TE, Transfer-Encoding,
Upgrade ...) stay on their own hop, and X-Forwarded-For, -Host and -Proto tell the
origin who asked. The client's Host goes through as it is, so the origin's same-origin
checks (login, cookies) see the address the browser used. Websockets are not passed: granian serves the edge without them,
so the browser app's live updates need a direct connection to an origin.

An instance of a cluster uses it too, to relay an upload to the instance that owns
the uploader (media/forwarding.py).

The cost: one more hop per request (loopback or a LAN) and the edge's CPU to relay
it. Behind an edge every client has the edge's address, as far as the origin's
per-address rate limits can tell.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence

import httpx
from litestar import Request
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from .origin import Origins

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# Set by this hop; the client's own X-Forwarded-For is kept and extended. Expect: the
# edge has read (and answered "100 Continue" for) the body it sends on.
REPLACED = frozenset({"expect", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"})
NO_BODY = frozenset({204, 304})


def end_to_end(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """The headers meant for the far end: hop-by-hop ones, and those Connection names, dropped."""
    decoded = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
    named = {token.strip().lower() for name, value in decoded if name.lower() == "connection" for token in value.split(",")}
    return [(name, value) for name, value in decoded if name.lower() not in HOP_BY_HOP | named]


def _target(scope) -> str:
    """The path and query exactly as the client sent them (percent escapes untouched)."""
    # raw_path has no query (a "?" in a path is sent as %3F), but some test transports leave it on.
    path = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0].decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


async def _relay(upstream: httpx.Response) -> AsyncGenerator[bytes, None]:
    try:
        # Raw: still compressed if the origin compressed it, as the passed-on headers say.
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()


async def pass_through(
    request: Request, origins: Origins, extra_headers: Sequence[tuple[str, str]] = (), first: int | None = None
) -> ASGIResponse:
    """Send the request to an origin and relay its answer, whatever it is.

    `extra_headers` are this hop's own (an instance relaying an upload signs it): they
    replace any the client sent under the same names."""
    sent = end_to_end(request.scope["headers"])
    replaced = REPLACED | {name.lower() for name, _ in extra_headers}
    headers = [(name, value) for name, value in sent if name.lower() not in replaced]
    client = request.client.host if request.client else None
    chain = ", ".join(hop for hop in (request.headers.get("x-forwarded-for"), client) if hop)
    if chain:
        headers.append(("x-forwarded-for", chain))
    headers += [("x-forwarded-host", request.headers.get("host", "")), ("x-forwarded-proto", request.url.scheme)]
    headers += extra_headers
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    upstream = await origins.send(
        request.method, _target(request.scope), headers, request.stream() if has_body else None, first=first
    )
    answer = end_to_end(upstream.headers.raw)
    head_only = request.method == "HEAD"
    if head_only or upstream.status_code in NO_BODY:
        await upstream.aclose()
        return ASGIResponse(status_code=upstream.status_code, headers=answer, is_head_response=head_only)
    # A body without a Content-Type may be taken as octet-stream (RFC 9110 8.3); Litestar would say JSON.
    return ASGIStreamingResponse(
        iterator=_relay(upstream), status_code=upstream.status_code, headers=answer, media_type="application/octet-stream"
    )

"""The web module: serves the browser app (`/`), the live architecture page (`/system`)
and their files (`/static/...`, this folder), with no build step.

The idea: the browser app is just another client of the JSON API and `/ws`; the server
only hands out files. Litestar's static files router reads them; a small ASGI
middleware adds the security headers and answers a revalidation with 304:

- `Content-Security-Policy`: scripts, styles and connections only from this origin,
  no inline script, no plugins, no framing. Even if some user text slipped into the
  page as markup, it could not run.
- `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.
- `Cache-Control: no-cache` with the file's ETag: the names are not content-hashed, so
  a browser must ask each time whether a file changed, and "not modified" costs a
  304 with no body. (Immutable caching would keep a stale script after an upgrade.)

Cost: a file read per 200; nothing touches the stores.
"""

from __future__ import annotations

from pathlib import Path

from litestar import route
from litestar.datastructures import CacheControlHeader
from litestar.response import File
from litestar.static_files import create_static_files_router

from ..module import Module

WEB_ROOT = Path(__file__).resolve().parent

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
CACHE_CONTROL = CacheControlHeader(no_cache=True)
# What /static hands out (pyproject.toml ships the same kinds in the package).
SERVED_SUFFIXES = frozenset({".html", ".js", ".css", ".svg", ".png", ".ico", ".webmanifest"})
OPT = {"exclude_from_auth": True}


def security_headers(app):
    """ASGI middleware: the headers above on every answer, and 304 for a matching If-None-Match."""

    async def middleware(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        wanted = next((value for name, value in scope["headers"] if name == b"if-none-match"), None)
        not_modified = False

        async def send_with_headers(message):
            nonlocal not_modified
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *SECURITY_HEADERS]
                etag = next((value for name, value in headers if name.lower() == b"etag"), None)
                if wanted is not None and etag is not None and message["status"] == 200 and _matches(wanted, etag):
                    not_modified = True
                    kept = [(n, v) for n, v in headers if n.lower() not in (b"content-length", b"content-type")]
                    await send({"type": "http.response.start", "status": 304, "headers": kept})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                message = {**message, "headers": headers}
            elif not_modified:
                return  # the body of a 304 is not sent
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def only_web_files(app):
    """ASGI middleware of `/static`: the folder also holds this module's Python files, which
    are not the app's to serve; anything but the kinds a browser app is made of is a 404."""

    async def middleware(scope, receive, send):
        if scope["type"] == "http" and Path(scope["path"]).suffix.lower() not in SERVED_SUFFIXES:
            body = b'{"status_code":404,"detail":"Not Found"}'
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return middleware


def _matches(wanted: bytes, etag: bytes) -> bool:
    """If-None-Match: `*` or a list of tags; weak and strong forms compare equal (RFC 9110)."""
    tags = [tag.strip().removeprefix(b"W/") for tag in wanted.split(b",")]
    return b"*" in tags or etag.removeprefix(b"W/") in tags


def page(name: str) -> File:
    # Litestar appends "; charset=utf-8" to a text/* type itself.
    return File(WEB_ROOT / name, content_disposition_type="inline", media_type="text/html")


@route("/", http_method=["GET", "HEAD"], opt=OPT, include_in_schema=False, cache_control=CACHE_CONTROL, middleware=[security_headers])
async def app_page() -> File:
    """The browser app: one page; the router in js/router.js picks the screen."""
    return page("index.html")


@route("/system", http_method=["GET", "HEAD"], opt=OPT, include_in_schema=False, cache_control=CACHE_CONTROL, middleware=[security_headers])
async def system_page() -> File:
    """The live architecture page (numbers from GET /api/v1/system/stats)."""
    return page("system.html")


class WebModule(Module):
    name = "web"

    def handlers(self) -> list:
        files = create_static_files_router(
            "/static", directories=[WEB_ROOT], cache_control=CACHE_CONTROL, middleware=[security_headers, only_web_files], opt=OPT,
            include_in_schema=False,
        )
        return [app_page, system_page, files]

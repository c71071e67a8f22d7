"""The web app's pages and files: served by the server itself, with the security headers."""

from __future__ import annotations

import re

import msgspec
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.web.plugin import CONTENT_SECURITY_POLICY, WEB_ROOT

SECURED = ["/", "/system", "/static/js/main.js", "/static/css/app.css"]


def assert_secured(response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_pages_and_files_are_served_with_the_security_headers(client):
    for path in SECURED:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert_secured(response)
        assert "no-cache" in response.headers["cache-control"] and response.headers["etag"]
    index = await client.get("/")
    assert index.headers["content-type"] == "text/html; charset=utf-8"  # once, not twice
    assert index.text == (WEB_ROOT / "index.html").read_text()
    assert (await client.get("/system")).text == (WEB_ROOT / "system.html").read_text()
    script = await client.get("/static/js/main.js")
    assert script.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert script.text == (WEB_ROOT / "js" / "main.js").read_text()


async def test_head_answers_the_headers_only(client):
    for path in SECURED:
        response = await client.head(path)
        assert response.status_code == 200 and response.content == b"", path
        assert_secured(response)


async def test_an_unchanged_file_is_a_304_without_a_body(client):
    first = await client.get("/static/js/main.js")
    again = await client.get("/static/js/main.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert_secured(again)
    other = await client.get("/static/js/main.js", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


async def test_a_missing_file_is_404(client):
    assert (await client.get("/static/js/nothing-here.js")).status_code == 404
    assert (await client.get("/static/../config.py")).status_code == 404
    # The folder holds the module's own Python too: not the app's to serve.
    assert (await client.get("/static/plugin.py")).status_code == 404
    assert (await client.get("/static/__init__.py")).status_code == 404


def test_the_pages_have_no_inline_script():
    for page in ("index.html", "system.html"):
        html = (WEB_ROOT / page).read_text()
        for tag in re.findall(r"<script\b[^>]*>", html, re.I):
            assert re.search(r"\bsrc=", tag), f"{page}: inline script {tag}"
        for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.I | re.S):
            assert not tag.strip(), f"{page}: inline script body"
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), f"{page}: an inline event handler"


async def test_a_logged_out_visitor_with_a_stale_cookie_still_gets_the_pages(client):
    client.cookies.set("instamini_session", "stale-token", domain="testserver.local")
    for path in SECURED:
        response = await client.get(path, headers={"Cookie": "instamini_session=stale-token"})
        assert response.status_code == 200, (path, response.text)
    # The API still says the session is bad, so the app shows the login.
    assert (await client.get("/api/v1/me", headers={"Cookie": "instamini_session=stale-token"})).status_code == 401


async def test_the_web_module_can_be_switched_off(config):
    modules = msgspec.structs.replace(config.modules, web=False)
    async with AsyncTestClient(create_app(msgspec.structs.replace(config, modules=modules))) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/static/js/main.js")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200

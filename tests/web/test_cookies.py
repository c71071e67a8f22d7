"""Browser sessions: the HttpOnly session cookie, the CSRF token derived from it, logout."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from instamini.accounts.auth import csrf_token
from instamini.app import create_app
from tests.accounts.helpers import count_rows

PASSWORD = "correct horse"


@pytest.fixture
async def browser(config) -> AsyncIterator[AsyncTestClient]:
    """A client that keeps cookies, like a browser (the shared `client` fixture keeps none)."""
    async with AsyncTestClient(create_app(config)) as test_client:
        yield test_client


def set_cookies(response) -> dict[str, str]:
    """name -> the whole Set-Cookie line, lower-cased."""
    found = {}
    for line in response.headers.get_list("set-cookie"):
        found[line.split("=", 1)[0]] = line.lower()
    return found


def flags(line: str) -> set[str]:
    return {part.strip().split("=")[0] for part in line.split(";")[1:]}


async def sign_up(browser, username: str = "alice"):
    response = await browser.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response


def csrf(browser) -> dict:
    return {"X-CSRF-Token": browser.cookies["instamini_csrf"]}


async def test_register_and_login_set_both_cookies_with_the_right_flags(browser):
    response = await sign_up(browser)
    body = response.json()
    assert set(body) == {"account", "token"}  # the API contract is unchanged
    cookies = set_cookies(response)
    session, token = cookies["instamini_session"], cookies["instamini_csrf"]
    assert session.startswith(f"instamini_session={body['token']};".lower())
    assert {"httponly", "samesite", "path", "max-age"} <= flags(session) and "samesite=lax" in session
    assert "path=/;" in session + ";" and "secure" not in flags(session)
    assert "httponly" not in flags(token) and "samesite=lax" in token and "path=/" in token
    assert browser.cookies["instamini_csrf"] == csrf_token(body["token"])
    assert csrf_token(body["token"]) != body["token"] and len(csrf_token(body["token"])) == 64

    login = await browser.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 201, login.text
    cookies = set_cookies(login)
    assert {"instamini_session", "instamini_csrf"} <= set(cookies)
    assert browser.cookies["instamini_session"] == login.json()["token"]
    assert browser.cookies["instamini_csrf"] == csrf_token(login.json()["token"])


async def test_cookies_are_secure_over_https(config):
    async with AsyncTestClient(create_app(config), base_url="https://testserver.local") as browser:
        response = await sign_up(browser)
        for line in set_cookies(response).values():
            assert "secure" in flags(line), line


async def test_the_session_cookie_authenticates_reads(browser):
    alice = (await sign_up(browser)).json()
    me = await browser.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["id"] == alice["account"]["id"]


async def test_a_cookie_write_without_the_right_csrf_header_is_403_and_changes_nothing(browser):
    await sign_up(browser)
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": browser.cookies["instamini_session"]}):
        response = await browser.patch("/api/v1/me", json={"bio": "forged"}, headers=headers)
        assert response.status_code == 403, response.text
        assert "X-CSRF-Token" in response.json()["detail"]
    assert (await browser.get("/api/v1/me")).json()["bio"] == ""
    # A forged logout does not end the session either.
    assert (await browser.delete("/api/v1/sessions/current")).status_code == 403
    assert (await browser.get("/api/v1/me")).status_code == 200

    response = await browser.patch("/api/v1/me", json={"bio": "mine"}, headers=csrf(browser))
    assert response.status_code == 200, response.text
    assert (await browser.get("/api/v1/me")).json()["bio"] == "mine"


async def test_bearer_requests_need_no_csrf_token_and_win_over_the_cookie(browser):
    await sign_up(browser, "alice")
    bob = (await sign_up(browser, "bob")).json()  # the cookies are bob's now
    alice = (await browser.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})).json()
    # The browser holds alice's cookies; a bearer header for bob decides who is calling.
    response = await browser.patch("/api/v1/me", json={"bio": "bob here"}, headers={"Authorization": f"Bearer {bob['token']}"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == bob["account"]["id"]
    assert (await browser.get("/api/v1/me")).json()["id"] == alice["account"]["id"]


async def test_a_stale_cookie_is_401_on_the_api_but_login_still_works(browser):
    await sign_up(browser)
    browser.cookies.set("instamini_session", "stale-token", domain="testserver.local")
    assert (await browser.get("/api/v1/me")).status_code == 401
    login = await browser.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 201, login.text
    assert (await browser.get("/api/v1/me")).status_code == 200


async def test_logout_clears_the_cookies_and_ends_the_session(browser):
    token = (await sign_up(browser)).json()["token"]
    response = await browser.delete("/api/v1/sessions/current", headers=csrf(browser))
    assert response.status_code == 204, response.text
    cleared = set_cookies(response)
    assert {"instamini_session", "instamini_csrf"} <= set(cleared)
    assert all("max-age=0" in line or "expires=" in line for line in cleared.values())
    assert "instamini_session" not in browser.cookies and "instamini_csrf" not in browser.cookies
    assert (await browser.get("/api/v1/me")).status_code == 401
    assert (await browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert await count_rows(browser, "SELECT count(*) FROM sessions") == 0


async def test_another_site_cannot_log_a_visitor_in(browser):
    """Login CSRF: a page elsewhere posting the attacker's credentials gets 403 and sets no cookie."""
    await sign_up(browser, "mallory")
    browser.cookies.clear()
    forged = {"Origin": "https://evil.example"}
    login = await browser.post("/api/v1/sessions", json={"username": "mallory", "password": PASSWORD}, headers=forged)
    assert login.status_code == 403 and not set_cookies(login)
    register = await browser.post("/api/v1/accounts", json={"username": "eve", "password": PASSWORD}, headers=forged)
    assert register.status_code == 403 and not set_cookies(register)
    same_site = {"Origin": "http://testserver.local"}
    login = await browser.post("/api/v1/sessions", json={"username": "mallory", "password": PASSWORD}, headers=same_site)
    assert login.status_code == 201 and "instamini_session" in set_cookies(login)

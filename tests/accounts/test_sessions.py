"""POST /api/v1/sessions (log in), DELETE /api/v1/sessions/current (log out), bearer tokens."""

from __future__ import annotations

import time

import pytest

from instamini.accounts.service import token_hash
from tests.accounts.helpers import assert_error, count_rows, snapshot, state_of, sync_in_app, write

LOGIN = "/api/v1/sessions"
LOGOUT = "/api/v1/sessions/current"


async def login(client, username: str, password: str = "correct horse"):
    return await client.post(LOGIN, json={"username": username, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def test_login_gives_a_new_working_token(client, alice):
    response = await login(client, "alice")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["account"]["id"] == alice.id
    assert body["account"]["username"] == "alice"
    assert body["token"] != alice.token
    me = await client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.json()["id"] == alice.id
    # The registration token still works too: a login adds a session, it does not replace one.
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
    assert await count_rows(client, "SELECT count(*) FROM sessions WHERE user_id = ?", (int(alice.id),)) == 2


async def test_login_is_case_insensitive_on_the_username(client, alice):
    response = await login(client, "ALICE")
    assert response.status_code == 201, response.text
    assert response.json()["account"]["id"] == alice.id


async def test_wrong_password_and_unknown_user_get_the_same_401(client, alice):
    before = await snapshot(client)
    wrong = await login(client, "alice", "not the password")
    unknown = await login(client, "nobody_here", "not the password")
    body_wrong = assert_error(wrong, 401, "wrong username or password")
    body_unknown = assert_error(unknown, 401)
    assert body_wrong == body_unknown
    assert await snapshot(client) == before  # no session was created


async def test_password_is_case_sensitive(client, alice):
    assert_error(await login(client, "alice", "CORRECT HORSE"), 401, "wrong username or password")


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"username": "alice"}, ["missing required field", "password"]),
        ({"password": "correct horse"}, ["missing required field", "username"]),
        ({"username": "", "password": "correct horse"}, ["username", "length >= 1"]),
        ({"username": "a" * 31, "password": "correct horse"}, ["username", "length <= 30"]),
        ({"username": "alice", "password": ""}, ["password", "length >= 1"]),
        ({"username": "alice", "password": "p" * 257}, ["password", "length <= 256"]),
        ({"username": "alice", "password": 5}, ["password", "expected `str`"]),
        ({"username": 5, "password": "correct horse"}, ["username", "expected `str`"]),
        ({"username": "alice", "password": "correct horse", "remember": True}, ["unknown field", "remember"]),
        ([], ["expected `object`"]),
    ],
)
async def test_bad_login_bodies_are_400(client, alice, body, fragments):
    before = await snapshot(client)
    assert_error(await client.post(LOGIN, json=body), 400, *fragments)
    assert await snapshot(client) == before


async def test_malformed_login_json_is_400(client, alice):
    response = await client.post(LOGIN, content=b'{"username": "alice"', headers={"Content-Type": "application/json"})
    assert_error(response, 400, "truncated")


async def test_logout_revokes_only_that_token(client, alice):
    second = (await login(client, "alice")).json()["token"]
    response = await client.delete(LOGOUT, headers=alice.headers)
    assert response.status_code == 204, response.text

    gone = await client.get("/api/v1/me", headers=alice.headers)
    assert_error(gone, 401, "invalid or revoked token")
    assert gone.headers["www-authenticate"] == "Bearer"
    still = await client.get("/api/v1/me", headers=bearer(second))
    assert still.status_code == 200 and still.json()["id"] == alice.id
    assert await count_rows(client, "SELECT count(*) FROM sessions WHERE user_id = ?", (int(alice.id),)) == 1
    # Logging out twice: the token is already gone.
    assert_error(await client.delete(LOGOUT, headers=alice.headers), 401, "invalid or revoked token")


async def test_logout_is_a_204_without_a_body_that_clears_both_cookies(client, alice):
    """Found by tests/reliability/test_schemathesis.py: the OpenAPI promised a JSON body with the 204."""
    response = await client.delete(LOGOUT, headers=alice.headers)
    assert response.status_code == 204 and response.content == b""
    cleared = response.headers.get_list("set-cookie")
    assert sorted(c.split("=")[0] for c in cleared) == ["instamini_csrf", "instamini_session"]
    assert all("Max-Age=0" in c for c in cleared)
    documented = (await client.get("/schema/openapi.json")).json()["paths"][LOGOUT]["delete"]["responses"]["204"]
    assert "content" not in documented


async def test_logout_leaves_other_users_alone(client, alice, bob):
    assert (await client.delete(LOGOUT, headers=alice.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=bob.headers)).status_code == 200


async def test_revoked_token_stays_revoked_when_the_cache_is_cold(client, alice):
    digest = token_hash(alice.token)
    assert (await client.delete(LOGOUT, headers=alice.headers)).status_code == 204
    sync_in_app(client, state_of(client).accounts.sessions.delete, digest)  # force the SQLite path
    assert_error(await client.get("/api/v1/me", headers=alice.headers), 401, "invalid or revoked token")


async def test_logout_anonymously_is_401(client, alice):
    before = await snapshot(client)
    assert_error(await client.delete(LOGOUT), 401, "log in")
    assert await snapshot(client) == before


async def test_a_token_works_from_a_cold_cache(client, alice):
    sync_in_app(client, state_of(client).accounts.sessions.delete, token_hash(alice.token))
    response = await client.get("/api/v1/me", headers=alice.headers)
    assert response.status_code == 200 and response.json()["id"] == alice.id


async def test_expired_session_is_401(client, alice):
    state = state_of(client)
    digest = token_hash(alice.token)
    shard = state.accounts._session_shard(alice.token)
    past = int(time.time()) - 10
    await write(client, shard, lambda conn: conn.execute("UPDATE sessions SET expires_at = ? WHERE token_hash = ?", (past, digest)))
    sync_in_app(client, state.accounts.sessions.delete, digest)
    assert_error(await client.get("/api/v1/me", headers=alice.headers), 401, "expired")


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("Bearer garbage", "invalid or revoked token"),
        ("Bearer " + "x" * 43, "invalid or revoked token"),
        ("Bearer " + "x" * 129, "Bearer <token>"),
        ("Bearer " + "x" * 5000, "Bearer <token>"),
        ("Bearer", "Bearer <token>"),
        ("Bearer ", "Bearer <token>"),
        ("Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==", "Bearer <token>"),
        ("Token abc", "Bearer <token>"),
        ("", "Bearer <token>"),
    ],
)
async def test_bad_authorization_headers_are_401(client, alice, header, fragment):
    before = await snapshot(client)
    for method, url in [("GET", "/api/v1/me"), ("DELETE", LOGOUT), ("PATCH", "/api/v1/me")]:
        kwargs = {"json": {"bio": "hacked"}} if method == "PATCH" else {}
        response = await client.request(method, url, headers={"Authorization": header}, **kwargs)
        assert_error(response, 401, fragment)
    assert await snapshot(client) == before
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["bio"] == ""


async def test_scheme_is_case_insensitive(client, alice):
    response = await client.get("/api/v1/me", headers={"Authorization": f"bearer {alice.token}"})
    assert response.status_code == 200 and response.json()["id"] == alice.id


async def test_another_users_token_hash_is_not_a_token(client, alice):
    # Only SHA-256 of a token is stored: the stored value does not authenticate.
    stolen = token_hash(alice.token).hex()
    assert_error(await client.get("/api/v1/me", headers=bearer(stolen)), 401, "invalid or revoked token")


async def test_a_token_names_its_users_shard_and_a_legacy_or_hostile_one_is_handled(client, alice):
    """Sessions live on the user's shard, named by the token's prefix, so that in a cluster the
    user's own instance checks them (accounts/service.py). A token from before the prefix is
    found where its hash put it; a prefix no shard has is a 401, not an error."""
    from instamini.ids import shard_of

    state = state_of(client)
    prefix, _, rest = alice.token.partition(".")
    assert int(prefix) == shard_of(int(alice.id)) and len(rest) >= 43
    for hostile in ("99999." + rest, "-1." + rest, "x." + rest, "1" * 40 + "." + rest, "." + rest, alice.token + "."):
        answer = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {hostile}"})
        assert answer.status_code == 401, (hostile, answer.text)
    # A session made before tokens had a prefix: its row on the shard its hash picks.
    legacy = "legacytokenwithoutanydotinit0123456789abcdef"
    digest = token_hash(legacy)
    shard = int.from_bytes(digest[:8], "big") % state.meta.shard_count
    expires = int(time.time()) + 3600
    await write(client, shard, lambda conn: conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (digest, int(alice.id), expires - 7200, expires)))
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {legacy}"})
    assert me.status_code == 200 and me.json()["id"] == alice.id
    assert (await client.delete("/api/v1/sessions/current", headers={"Authorization": f"Bearer {legacy}"})).status_code == 204
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {legacy}"})).status_code == 401

"""POST /api/v1/accounts: registration, its validation, and the race for one name."""

from __future__ import annotations

import pytest

from tests.accounts.helpers import assert_error, concurrently, count_rows, snapshot

URL = "/api/v1/accounts"
GOOD_PASSWORD = "correct horse"


async def test_register_returns_account_and_a_working_token(client):
    response = await client.post(URL, json={"username": "Dora_99", "password": GOOD_PASSWORD, "display_name": "Dora"})
    assert response.status_code == 201, response.text
    body = response.json()
    account, token = body["account"], body["token"]
    assert account["username"] == "dora_99"  # lower-cased
    assert account["display_name"] == "Dora"
    assert account["bio"] == "" and account["private"] is False and account["avatar_media_id"] is None
    assert isinstance(account["id"], str) and account["id"].isdigit()
    assert account["created_at"].endswith("Z")
    assert isinstance(token, str) and len(token) >= 32

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == account["id"]
    assert me.json()["username"] == "dora_99"
    assert me.json()["counts"] == {"posts": 0, "followers": 0, "following": 0}


async def test_display_name_defaults_to_empty_and_accepts_64_chars(client):
    plain = await client.post(URL, json={"username": "plain", "password": GOOD_PASSWORD})
    assert plain.status_code == 201 and plain.json()["account"]["display_name"] == ""
    longest = await client.post(URL, json={"username": "longest", "password": GOOD_PASSWORD, "display_name": "é" * 64})
    assert longest.status_code == 201 and longest.json()["account"]["display_name"] == "é" * 64


async def test_boundary_usernames_and_passwords_are_accepted(client):
    for username, password in [("a", "x" * 8), ("b" * 30, "y" * 256), ("a.b_c.9", "z" * 8), ("_", "w" * 8)]:
        response = await client.post(URL, json={"username": username, "password": password})
        assert response.status_code == 201, (username, response.text)
        login = await client.post("/api/v1/sessions", json={"username": username, "password": password})
        assert login.status_code == 201, (username, login.text)


async def test_duplicate_username_is_409_whatever_the_case(client, alice):
    before = await snapshot(client)
    for name in ["alice", "ALICE", "Alice"]:
        response = await client.post(URL, json={"username": name, "password": "another password"})
        assert_error(response, 409, "alice", "taken")
    assert await snapshot(client) == before
    # The original password still logs in: the duplicate did not overwrite anything.
    login = await client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
    assert login.status_code == 201


@pytest.mark.parametrize(
    ("username", "fragments"),
    [
        ("", ["username", "length >= 1"]),
        ("a" * 31, ["username", "length <= 30"]),
        ("has space", ["username", "regex"]),
        ("zoë", ["username", "regex"]),
        ("日本", ["username", "regex"]),
        ("dash-ed", ["username", "regex"]),
        ("at@sign", ["username", "regex"]),
        (".lead", ["username", "start or end with '.'"]),
        ("trail.", ["username", "start or end with '.'"]),
        ("a..b", ["username", "'..'"]),
        ("explore", ["username", "reserved"]),
        ("Explore", ["explore", "reserved"]),
        ("api", ["reserved"]),
        ("me", ["reserved"]),
        ("ws", ["reserved"]),
    ],
)
async def test_bad_usernames_are_400_and_create_nothing(client, username, fragments):
    before = await snapshot(client)
    response = await client.post(URL, json={"username": username, "password": GOOD_PASSWORD})
    assert_error(response, 400, *fragments)
    assert await snapshot(client) == before
    assert await count_rows(client, "SELECT count(*) FROM users") == 0


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"username": "newbie", "password": "short12"}, ["password", "length >= 8"]),
        ({"username": "newbie", "password": ""}, ["password", "length >= 8"]),
        ({"username": "newbie", "password": "p" * 257}, ["password", "length <= 256"]),
        ({"username": "newbie", "password": 12345678}, ["password", "expected `str`"]),
        ({"username": "newbie", "password": None}, ["password", "expected `str`"]),
        ({"username": 42, "password": GOOD_PASSWORD}, ["username", "expected `str`"]),
        ({"username": ["newbie"], "password": GOOD_PASSWORD}, ["username", "expected `str`"]),
        ({"username": None, "password": GOOD_PASSWORD}, ["username", "expected `str`"]),
        ({"username": "newbie", "password": GOOD_PASSWORD, "display_name": 7}, ["display_name", "expected `str`"]),
        ({"username": "newbie", "password": GOOD_PASSWORD, "display_name": "d" * 65}, ["display_name", "length <= 64"]),
        ({"username": "newbie", "password": GOOD_PASSWORD, "admin": True}, ["unknown field", "admin"]),
        ({"username": "newbie", "password": GOOD_PASSWORD, "id": "1"}, ["unknown field", "id"]),
        ({"username": "newbie"}, ["missing required field", "password"]),
        ({"password": GOOD_PASSWORD}, ["missing required field", "username"]),
        ({}, ["missing required field"]),
        ([], ["expected `object`"]),
        ("newbie", ["expected `object`"]),
    ],
)
async def test_bad_bodies_are_400_and_create_nothing(client, body, fragments):
    before = await snapshot(client)
    response = await client.post(URL, json=body)
    assert_error(response, 400, *fragments)
    assert await snapshot(client) == before
    assert await count_rows(client, "SELECT count(*) FROM users") == 0


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "malformed"),
        (b'{"username": "newbie", "password": ', "truncated"),
        (b"\xff\xfe", "malformed"),
        (b"null", "expected `object`"),
        (b"", "data"),
        (b"[" * 100 + b"]" * 100, "expected `object`"),
    ],
)
async def test_malformed_or_empty_json_is_400(client, raw, fragment):
    before = await snapshot(client)
    response = await client.post(URL, content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, fragment)
    assert await snapshot(client) == before


async def test_concurrent_registrations_of_one_name_make_one_user(client):
    def attempt(i: int):
        # Different cases and passwords: they all name the same account.
        name = "racer" if i % 2 else "RACER"
        return lambda http: http.post(URL, json={"username": name, "password": f"password-{i}"})

    responses = concurrently(client, *(attempt(i) for i in range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "racer", "taken")
    assert await count_rows(client, "SELECT count(*) FROM users WHERE username = 'racer'") == 1
    assert await count_rows(client, "SELECT count(*) FROM usernames WHERE username = 'racer'") == 1
    assert await count_rows(client, "SELECT count(*) FROM users") == 1
    # Exactly one session exists: the winner's, and its token works.
    assert await count_rows(client, "SELECT count(*) FROM sessions") == 1
    winner = next(r for r in responses if r.status_code == 201).json()
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {winner['token']}"})
    assert me.status_code == 200 and me.json()["id"] == winner["account"]["id"]


async def test_concurrent_registrations_of_different_names_all_succeed(client):
    responses = concurrently(
        client, *(lambda http, i=i: http.post(URL, json={"username": f"crowd{i}", "password": GOOD_PASSWORD}) for i in range(12))
    )
    assert [r.status_code for r in responses] == [201] * 12
    ids = {r.json()["account"]["id"] for r in responses}
    assert len(ids) == 12
    assert await count_rows(client, "SELECT count(*) FROM users") == 12

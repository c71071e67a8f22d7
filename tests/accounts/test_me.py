"""GET and PATCH /api/v1/me: the caller's own account."""

from __future__ import annotations

import pytest

from tests.accounts.helpers import assert_error, snapshot

URL = "/api/v1/me"


async def test_read_me(client, alice):
    response = await client.get(URL, headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "id": alice.id,
        "username": "alice",
        "display_name": "",
        "bio": "",
        "private": False,
        "avatar_media_id": None,
        "avatar_url": None,
        "created_at": alice.account["created_at"],
        "counts": {"posts": 0, "followers": 0, "following": 0},
    }


async def test_anonymous_is_401(client, alice):
    before = await snapshot(client)
    assert_error(await client.get(URL), 401, "log in")
    assert_error(await client.patch(URL, json={"bio": "x"}), 401, "log in")
    assert await snapshot(client) == before


async def test_each_field_can_be_edited_alone_and_the_others_stay(client, alice):
    r = await client.patch(URL, headers=alice.headers, json={"display_name": "Alice A."})
    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Alice A." and r.json()["bio"] == "" and r.json()["private"] is False

    r = await client.patch(URL, headers=alice.headers, json={"bio": "photos of cats 🐈"})
    assert r.status_code == 200, r.text
    assert r.json()["bio"] == "photos of cats 🐈" and r.json()["display_name"] == "Alice A."

    r = await client.patch(URL, headers=alice.headers, json={"private": True})
    assert r.status_code == 200, r.text
    assert r.json()["private"] is True and r.json()["bio"] == "photos of cats 🐈" and r.json()["display_name"] == "Alice A."

    r = await client.patch(URL, headers=alice.headers, json={"avatar_media_id": None})
    assert r.status_code == 200, r.text
    assert r.json()["avatar_media_id"] is None and r.json()["private"] is True

    # An empty patch changes nothing.
    before = await snapshot(client)
    r = await client.patch(URL, headers=alice.headers, json={})
    assert r.status_code == 200
    assert await snapshot(client) == before

    me = (await client.get(URL, headers=alice.headers)).json()
    assert (me["display_name"], me["bio"], me["private"], me["avatar_media_id"]) == ("Alice A.", "photos of cats 🐈", True, None)
    assert me["username"] == "alice" and me["id"] == alice.id
    # Others see the edit on the public profile.
    profile = (await client.get("/api/v1/users/alice")).json()
    assert (profile["display_name"], profile["bio"], profile["private"]) == ("Alice A.", "photos of cats 🐈", True)


async def test_several_fields_at_once_and_clearing(client, alice):
    r = await client.patch(URL, headers=alice.headers, json={"display_name": "A", "bio": "b" * 150, "private": True})
    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["bio"], r.json()["private"]) == ("A", "b" * 150, True)
    r = await client.patch(URL, headers=alice.headers, json={"display_name": "", "bio": "", "private": False})
    assert r.status_code == 200, r.text
    assert (r.json()["display_name"], r.json()["bio"], r.json()["private"]) == ("", "", False)


async def test_edits_touch_only_the_caller(client, alice, bob):
    await client.patch(URL, headers=alice.headers, json={"bio": "alice's bio", "private": True})
    bob_me = (await client.get(URL, headers=bob.headers)).json()
    assert bob_me["bio"] == "" and bob_me["private"] is False


@pytest.mark.parametrize(
    ("body", "status", "fragments"),
    [
        ({"bio": "b" * 151}, 400, ["bio", "length <= 150"]),
        ({"display_name": "d" * 65}, 400, ["display_name", "length <= 64"]),
        ({"bio": 5}, 400, ["bio", "expected `str`"]),
        ({"bio": None}, 400, ["bio", "expected `str`"]),
        ({"display_name": None}, 400, ["display_name", "expected `str`"]),
        ({"display_name": ["x"]}, 400, ["display_name", "expected `str`"]),
        ({"private": "yes"}, 400, ["private", "expected `bool`"]),
        ({"private": 2}, 400, ["private", "expected `bool`"]),  # Litestar decodes leniently: 0, 1, "true" pass
        ({"private": None}, 400, ["private", "expected `bool`"]),
        ({"avatar_media_id": "123"}, 400, ["avatar_media_id", "ready image"]),
        ({"avatar_media_id": "abc"}, 400, ["avatar_media_id", "regex"]),
        ({"avatar_media_id": 123}, 400, ["avatar_media_id", "expected"]),
        ({"avatar_media_id": "1" * 21}, 400, ["avatar_media_id", "length <= 20"]),
        ({"username": "mallory"}, 400, ["unknown field", "username"]),
        ({"password": "new password"}, 400, ["unknown field", "password"]),
        ({"bio": "ok", "extra": 1}, 400, ["unknown field", "extra"]),
        ([], 400, ["expected `object`"]),
        ("bio", 400, ["expected `object`"]),
    ],
)
async def test_bad_patches_are_400_and_change_nothing(client, alice, body, status, fragments):
    await client.patch(URL, headers=alice.headers, json={"display_name": "Before", "bio": "before"})
    before = await snapshot(client)
    assert_error(await client.patch(URL, headers=alice.headers, json=body), status, *fragments)
    assert await snapshot(client) == before
    me = (await client.get(URL, headers=alice.headers)).json()
    assert (me["display_name"], me["bio"], me["private"], me["avatar_media_id"]) == ("Before", "before", False, None)


async def test_a_bad_field_beside_good_ones_changes_nothing(client, alice):
    before = await snapshot(client)
    for body in [{"bio": "fine", "private": "no"}, {"display_name": "fine", "avatar_media_id": "42"}]:
        response = await client.patch(URL, headers=alice.headers, json=body)
        assert response.status_code == 400, response.text
    assert await snapshot(client) == before
    me = (await client.get(URL, headers=alice.headers)).json()
    assert me["bio"] == "" and me["display_name"] == ""


async def test_malformed_patch_is_400(client, alice):
    before = await snapshot(client)
    response = await client.patch(URL, content=b"{bio:", headers={**alice.headers, "Content-Type": "application/json"})
    assert_error(response, 400, "malformed")
    assert await snapshot(client) == before


async def test_me_counts_follow_the_graph(client, alice, bob, carol):
    assert (await client.post("/api/v1/users/bob/follow", headers=alice.headers)).status_code == 200
    assert (await client.post("/api/v1/users/alice/follow", headers=carol.headers)).status_code == 200
    me = (await client.get(URL, headers=alice.headers)).json()
    assert me["counts"] == {"posts": 0, "followers": 1, "following": 1}
    patched = (await client.patch(URL, headers=alice.headers, json={"bio": "x"})).json()
    assert patched["counts"] == {"posts": 0, "followers": 1, "following": 1}

"""GET /api/v1/users/{username}/followers and /following: pages, parameters, private accounts."""

from __future__ import annotations

import pytest

from tests.accounts.helpers import assert_error, names, register_on_shard
from tests.conftest import register


async def walk(client, path: str, limit: int, user=None) -> tuple[list[str], int]:
    """Every username over all pages, and how many pages it took."""
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
        response = await client.get(path, params=params, headers=user.headers if user else None)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        pages += 1
        seen += [item["username"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages
        assert isinstance(cursor, str) and pages < 100


@pytest.fixture
async def crowd(client):
    # Ids order by time at millisecond grain, then by shard: users on one shard make
    # "newest first" exact even when two follows land in the same millisecond.
    taken: set[str] = set()
    return [await register_on_shard(client, 0, "user", taken) for _ in range(25)]


async def test_followers_pages_newest_first(client, alice, crowd):
    for user in crowd:
        assert (await client.post("/api/v1/users/alice/follow", headers=user.headers)).status_code == 200
    expected = [u.username for u in reversed(crowd)]

    seen, pages = await walk(client, "/api/v1/users/alice/followers", 10)
    assert seen == expected and pages == 3
    assert len(set(seen)) == 25

    seen, pages = await walk(client, "/api/v1/users/alice/followers", 7, alice)
    assert seen == expected and pages == 4

    seen, pages = await walk(client, "/api/v1/users/alice/followers", 25)
    assert seen == expected and pages == 1  # an exact fit needs no second page

    seen, pages = await walk(client, "/api/v1/users/alice/followers", 100)
    assert seen == expected and pages == 1

    default = (await client.get("/api/v1/users/alice/followers")).json()
    assert [i["username"] for i in default["items"]] == expected[:20]
    assert default["next_cursor"] is not None
    item = default["items"][0]
    assert item == {"id": crowd[-1].id, "username": crowd[-1].username, "display_name": "", "avatar_media_id": None, "avatar_url": None}


async def test_following_pages_newest_first(client, alice, crowd):
    for user in crowd:
        assert (await client.post(f"/api/v1/users/{user.username}/follow", headers=alice.headers)).status_code == 200
    seen, pages = await walk(client, "/api/v1/users/alice/following", 8)
    assert seen == [u.username for u in reversed(crowd)]
    assert pages == 4


async def test_pages_stay_stable_while_someone_leaves(client, alice, crowd):
    for user in crowd:
        await client.post("/api/v1/users/alice/follow", headers=user.headers)
    first = (await client.get("/api/v1/users/alice/followers", params={"limit": 10})).json()
    # One of the first page unfollows: the next page still starts right after the cursor.
    await client.delete("/api/v1/users/alice/follow", headers=crowd[-1].headers)
    second = (await client.get("/api/v1/users/alice/followers", params={"limit": 10, "cursor": first["next_cursor"]})).json()
    assert [i["username"] for i in second["items"]] == [u.username for u in reversed(crowd[5:15])]


async def test_empty_lists(client, alice):
    for kind in ("followers", "following"):
        body = (await client.get(f"/api/v1/users/alice/{kind}")).json()
        assert body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "fragments"),
    [
        ("limit=0", ["limit", ">= 1"]),
        ("limit=-1", ["limit", ">= 1"]),
        ("limit=101", ["limit", "<= 100"]),
        ("limit=x", ["limit", "expected `int`"]),
        ("limit=1.5", ["limit", "expected `int`"]),
        ("cursor=abc", ["cursor", "not one this server gave out"]),
        ("cursor=-5", ["cursor", "not one this server gave out"]),
        ("cursor=0", ["cursor", "not one this server gave out"]),
        ("cursor=" + "9" * 25, ["cursor", "length <= 24"]),
        ("cursor=99999999999999999999", ["cursor", "not one this server gave out"]),
    ],
)
@pytest.mark.parametrize("kind", ["followers", "following"])
async def test_bad_parameters_are_400(client, alice, kind, query, fragments):
    assert_error(await client.get(f"/api/v1/users/alice/{kind}?{query}"), 400, *fragments)


async def test_unknown_user_lists_are_404(client, alice):
    for kind in ("followers", "following"):
        assert_error(await client.get(f"/api/v1/users/ghost/{kind}"), 404, "no user 'ghost'")
        assert_error(await client.get(f"/api/v1/users/ghost/{kind}", headers=alice.headers), 404, "no user 'ghost'")


async def test_private_lists_are_for_the_owner_and_approved_followers(client, alice, bob, carol):
    dave = await register(client, "dave")
    await client.post("/api/v1/users/carol/follow", headers=bob.headers)  # bob follows someone
    await client.patch("/api/v1/me", headers=bob.headers, json={"private": True})
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)  # requested
    await client.post("/api/v1/users/bob/follow", headers=dave.headers)  # requested
    await client.post("/api/v1/follow-requests/dave/approve", headers=bob.headers)

    for kind in ("followers", "following"):
        path = f"/api/v1/users/bob/{kind}"
        # Strangers, anonymous callers and people still waiting: 403, saying why.
        for viewer in (None, carol, alice):
            response = await client.get(path, headers=viewer.headers if viewer else None)
            assert_error(response, 403, "private", "bob")
    # The owner and an approved follower see them.
    assert await names(client, "/api/v1/users/bob/followers", bob) == ["dave"]
    assert await names(client, "/api/v1/users/bob/following", bob) == ["carol"]
    assert await names(client, "/api/v1/users/bob/followers", dave) == ["dave"]
    assert await names(client, "/api/v1/users/bob/following", dave) == ["carol"]
    # The profile itself (with its counts) stays visible to everyone.
    profile = (await client.get("/api/v1/users/bob", headers=carol.headers)).json()
    assert profile["counts"] == {"posts": 0, "followers": 1, "following": 1}
    # Once public, anyone sees them.
    await client.patch("/api/v1/me", headers=bob.headers, json={"private": False})
    assert sorted(await names(client, "/api/v1/users/bob/followers")) == ["alice", "dave"]


async def test_lists_show_current_display_names(client, alice, bob):
    await client.post("/api/v1/users/alice/follow", headers=bob.headers)
    before = (await client.get("/api/v1/users/alice/followers")).json()["items"]
    assert before[0]["display_name"] == ""
    await client.patch("/api/v1/me", headers=bob.headers, json={"display_name": "Bobby"})
    after = (await client.get("/api/v1/users/alice/followers")).json()["items"]
    assert after == [{"id": bob.id, "username": "bob", "display_name": "Bobby", "avatar_media_id": None, "avatar_url": None}]
    following = (await client.get("/api/v1/users/bob/following")).json()["items"]
    assert [u["username"] for u in following] == ["alice"]


async def test_bad_token_on_a_list_is_401(client, alice):
    for kind in ("followers", "following"):
        response = await client.get(f"/api/v1/users/alice/{kind}", headers={"Authorization": "Bearer nope"})
        assert_error(response, 401, "invalid or revoked")

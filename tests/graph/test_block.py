"""POST and DELETE /api/v1/users/{username}/block."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, counts, edges, names, profile, snapshot
from tests.conftest import register

ZERO = {"posts": 0, "followers": 0, "following": 0}


def url(name: str, what: str = "block") -> str:
    return f"/api/v1/users/{name}/{what}"


async def test_block_removes_follows_both_ways(client, alice, bob, carol):
    await client.post(url("bob", "follow"), headers=alice.headers)
    await client.post(url("alice", "follow"), headers=bob.headers)
    await client.post(url("bob", "follow"), headers=carol.headers)
    assert await counts(client, "alice") == {"posts": 0, "followers": 1, "following": 1}

    response = await client.post(url("bob"), headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"blocking": True}

    ai, bi, ci = int(alice.id), int(bob.id), int(carol.id)
    assert await edges(client) == {
        (ai, "blocking", bi),
        (bi, "blocked_by", ai),
        (ci, "following", bi),
        (bi, "follower", ci),
    }
    assert await counts(client, "alice") == ZERO
    assert (await profile(client, "bob", carol))["counts"] == {"posts": 0, "followers": 1, "following": 0}
    assert await names(client, url("alice", "followers")) == []
    assert await names(client, url("bob", "followers")) == ["carol"]


async def test_block_removes_requests_both_ways(client, alice, bob):
    await client.patch("/api/v1/me", headers=alice.headers, json={"private": True})
    await client.patch("/api/v1/me", headers=bob.headers, json={"private": True})
    await client.post(url("bob", "follow"), headers=alice.headers)
    await client.post(url("alice", "follow"), headers=bob.headers)
    assert (await client.post(url("bob"), headers=alice.headers)).status_code == 200
    assert await names(client, "/api/v1/follow-requests", alice) == []
    assert await names(client, "/api/v1/follow-requests", bob) == []
    assert {kind for _, kind, _ in await edges(client)} == {"blocking", "blocked_by"}


async def test_blocked_user_cannot_follow_or_see_the_blocker(client, alice, bob):
    await client.post(url("bob"), headers=alice.headers)
    before = await snapshot(client)
    assert_error(await client.post(url("alice", "follow"), headers=bob.headers), 404, "no user 'alice'")
    assert_error(await client.get("/api/v1/users/alice", headers=bob.headers), 404, "no user 'alice'")
    assert_error(await client.get(url("alice", "followers"), headers=bob.headers), 404, "no user 'alice'")
    assert_error(await client.get(url("alice", "following"), headers=bob.headers), 404, "no user 'alice'")
    # Nor the blocker the blocked.
    assert_error(await client.post(url("bob", "follow"), headers=alice.headers), 404, "no user 'bob'")
    assert_error(await client.get("/api/v1/users/bob", headers=alice.headers), 404, "no user 'bob'")
    assert await snapshot(client) == before


async def test_block_twice_is_409_and_unblock_without_block_is_409(client, alice, bob):
    before = await snapshot(client)
    assert_error(await client.delete(url("bob"), headers=alice.headers), 409, "do not block", "bob")
    assert await snapshot(client) == before

    await client.post(url("bob"), headers=alice.headers)
    before = await snapshot(client)
    assert_error(await client.post(url("bob"), headers=alice.headers), 409, "already block", "bob")
    # The blocked one cannot lift a block they did not make.
    assert_error(await client.delete(url("alice"), headers=bob.headers), 409, "do not block", "alice")
    assert await snapshot(client) == before


async def test_block_bad_targets(client, alice):
    before = await snapshot(client)
    assert_error(await client.post(url("alice"), headers=alice.headers), 400, "yourself")
    assert_error(await client.delete(url("alice"), headers=alice.headers), 400, "yourself")
    assert_error(await client.post(url("ghost"), headers=alice.headers), 404, "no user 'ghost'")
    assert_error(await client.delete(url("ghost"), headers=alice.headers), 404, "no user 'ghost'")
    assert_error(await client.post(url("alice")), 401, "log in")
    assert_error(await client.delete(url("alice")), 401, "log in")
    assert await snapshot(client) == before


async def test_unblock_restores_visibility_and_follow_works_again(client, alice, bob):
    await client.post(url("bob", "follow"), headers=alice.headers)
    await client.post(url("bob"), headers=alice.headers)
    response = await client.delete(url("BOB"), headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"blocking": False}
    assert await edges(client) == set()
    # The old follow is not restored by unblocking.
    assert await counts(client, "bob") == ZERO
    assert (await profile(client, "bob", alice))["relationship"] == {
        "following": False, "requested": False, "followed_by": False, "blocking": False,
    }
    assert (await profile(client, "alice", bob))["id"] == alice.id
    assert (await client.post(url("alice", "follow"), headers=bob.headers)).json() == {"state": "following"}
    assert (await client.post(url("bob", "follow"), headers=alice.headers)).json() == {"state": "following"}
    assert await counts(client, "bob") == {"posts": 0, "followers": 1, "following": 1}


async def test_mutual_blocks_need_both_lifted(client, alice, bob):
    await client.post(url("bob"), headers=alice.headers)
    # The blocked one can block back (the target is found even though hidden).
    assert (await client.post(url("alice"), headers=bob.headers)).json() == {"blocking": True}
    assert (await client.delete(url("bob"), headers=alice.headers)).json() == {"blocking": False}
    assert_error(await client.get("/api/v1/users/bob", headers=alice.headers), 404, "no user 'bob'")
    assert_error(await client.post(url("bob", "follow"), headers=alice.headers), 404)
    assert (await client.delete(url("alice"), headers=bob.headers)).json() == {"blocking": False}
    assert (await profile(client, "bob", alice))["id"] == bob.id
    assert await edges(client) == set()


async def test_blocked_users_disappear_from_lists_the_blocker_sees(client, alice, bob, carol):
    dave = await register(client, "dave")
    for fan in (alice, bob, carol):
        await client.post(url("dave", "follow"), headers=fan.headers)
    await client.post(url("bob", "follow"), headers=dave.headers)
    await client.post(url("carol", "follow"), headers=dave.headers)
    await client.post(url("bob"), headers=alice.headers)

    # Alice does not see bob in anyone's lists...
    assert sorted(await names(client, url("dave", "followers"), alice)) == ["alice", "carol"]
    assert await names(client, url("dave", "following"), alice) == ["carol"]
    # ...nor bob alice.
    assert sorted(await names(client, url("dave", "followers"), bob)) == ["bob", "carol"]
    # Others and anonymous callers see everyone.
    assert sorted(await names(client, url("dave", "followers"), carol)) == ["alice", "bob", "carol"]
    assert sorted(await names(client, url("dave", "followers"))) == ["alice", "bob", "carol"]
    assert sorted(await names(client, url("dave", "following"))) == ["bob", "carol"]
    # Counts are not per viewer.
    assert (await profile(client, "dave", alice))["counts"]["followers"] == 3

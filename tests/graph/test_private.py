"""Private accounts: follow requests, GET /api/v1/follow-requests, approve, reject, withdraw, going public."""

from __future__ import annotations


import pytest

from tests.accounts.helpers import (
    assert_error,
    counts,
    edges,
    in_app,
    names,
    profile,
    register_on_shard,
    snapshot,
    state_of,
)
from tests.graph.helpers import start_until_it_waits_for_the_pair_lock

REQUESTS = "/api/v1/follow-requests"


async def make_private(client, user) -> None:
    response = await client.patch("/api/v1/me", headers=user.headers, json={"private": True})
    assert response.status_code == 200 and response.json()["private"] is True


async def test_following_a_private_account_makes_a_request(client, alice, bob):
    await make_private(client, bob)
    response = await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"state": "requested"}
    ai, bi = int(alice.id), int(bob.id)
    assert await edges(client) == {(ai, "requested", bi), (bi, "request_from", ai)}
    assert await counts(client, "bob") == {"posts": 0, "followers": 0, "following": 0}
    assert await counts(client, "alice") == {"posts": 0, "followers": 0, "following": 0}
    assert await names(client, REQUESTS, bob) == ["alice"]
    assert await names(client, REQUESTS, alice) == []
    relationship = (await profile(client, "bob", alice))["relationship"]
    assert relationship["requested"] is True and relationship["following"] is False


async def test_asking_twice_is_409(client, alice, bob):
    await make_private(client, bob)
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    before = await snapshot(client)
    assert_error(await client.post("/api/v1/users/bob/follow", headers=alice.headers), 409, "already asked", "bob")
    assert await snapshot(client) == before


async def test_approve_turns_a_request_into_a_follow(client, alice, bob, carol):
    await make_private(client, bob)
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    await client.post("/api/v1/users/bob/follow", headers=carol.headers)
    assert sorted(await names(client, REQUESTS, bob)) == ["alice", "carol"]

    response = await client.post(f"{REQUESTS}/alice/approve", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"state": "following"}
    ai, bi = int(alice.id), int(bob.id)
    found = await edges(client)
    assert (ai, "following", bi) in found and (bi, "follower", ai) in found
    assert (ai, "requested", bi) not in found and (bi, "request_from", ai) not in found
    assert await counts(client, "bob") == {"posts": 0, "followers": 1, "following": 0}
    assert await counts(client, "alice") == {"posts": 0, "followers": 0, "following": 1}
    assert await names(client, REQUESTS, bob) == ["carol"]
    assert (await profile(client, "bob", alice))["relationship"]["following"] is True
    assert await names(client, "/api/v1/users/bob/followers", alice) == ["alice"]

    # Approving again: there is no request any more.
    before = await snapshot(client)
    assert_error(await client.post(f"{REQUESTS}/alice/approve", headers=bob.headers), 404, "no follow request", "alice")
    assert await snapshot(client) == before


async def test_reject_removes_the_request(client, alice, bob):
    await make_private(client, bob)
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    response = await client.post(f"{REQUESTS}/ALICE/reject", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"state": "none"}
    assert await edges(client) == set()
    assert await names(client, REQUESTS, bob) == []
    assert await counts(client, "bob") == {"posts": 0, "followers": 0, "following": 0}
    assert (await profile(client, "bob", alice))["relationship"]["requested"] is False
    # Alice may ask again.
    assert (await client.post("/api/v1/users/bob/follow", headers=alice.headers)).json() == {"state": "requested"}


async def test_withdrawing_a_request_with_delete_follow(client, alice, bob):
    await make_private(client, bob)
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    response = await client.delete("/api/v1/users/bob/follow", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"state": "none"}
    assert await edges(client) == set()
    assert await names(client, REQUESTS, bob) == []
    assert_error(await client.post(f"{REQUESTS}/alice/approve", headers=bob.headers), 404, "no follow request")
    assert_error(await client.delete("/api/v1/users/bob/follow", headers=alice.headers), 409, "do not follow")


async def test_going_public_approves_every_pending_request(client, alice, bob, carol):
    await make_private(client, bob)
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    await client.post("/api/v1/users/bob/follow", headers=carol.headers)
    response = await client.patch("/api/v1/me", headers=bob.headers, json={"private": False})
    assert response.status_code == 200, response.text
    assert response.json()["private"] is False
    assert response.json()["counts"]["followers"] == 2
    assert await names(client, REQUESTS, bob) == []
    assert sorted(await names(client, "/api/v1/users/bob/followers")) == ["alice", "carol"]
    assert await counts(client, "alice") == {"posts": 0, "followers": 0, "following": 1}
    assert await counts(client, "carol") == {"posts": 0, "followers": 0, "following": 1}
    found = await edges(client)
    assert not any(kind in ("requested", "request_from") for _, kind, _ in found)
    # New follows of the now public account are immediate.
    dave = (await client.post("/api/v1/accounts", json={"username": "dave", "password": "correct horse"})).json()
    follow = await client.post("/api/v1/users/bob/follow", headers={"Authorization": f"Bearer {dave['token']}"})
    assert follow.json() == {"state": "following"}


async def test_edits_that_do_not_go_public_leave_requests_alone(client, alice, bob):
    await make_private(client, bob)
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    await client.patch("/api/v1/me", headers=bob.headers, json={"bio": "still private"})
    await client.patch("/api/v1/me", headers=bob.headers, json={"private": True})
    assert await names(client, REQUESTS, bob) == ["alice"]
    assert await counts(client, "bob") == {"posts": 0, "followers": 0, "following": 0}


async def test_going_private_keeps_existing_followers(client, alice, bob):
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    await make_private(client, bob)
    assert await counts(client, "bob") == {"posts": 0, "followers": 1, "following": 0}
    assert await names(client, "/api/v1/users/bob/followers", alice) == ["alice"]


@pytest.mark.parametrize("answer", ["approve", "reject"])
async def test_answering_without_a_request_is_404(client, alice, bob, carol, answer):
    await make_private(client, bob)
    await client.post("/api/v1/users/bob/follow", headers=carol.headers)  # someone else's request
    await client.post("/api/v1/users/alice/follow", headers=bob.headers)  # a follow the other way is no request
    before = await snapshot(client)
    assert_error(await client.post(f"{REQUESTS}/alice/{answer}", headers=bob.headers), 404, "no follow request from 'alice'")
    # A missing user is a missing request: the same answer (authorization matrix, tests/reliability).
    assert_error(await client.post(f"{REQUESTS}/ghost/{answer}", headers=bob.headers), 404, "no follow request from 'ghost'")
    assert_error(await client.post(f"{REQUESTS}/bob/{answer}", headers=bob.headers), 400, "yourself")
    # Carol's request is for bob: alice cannot answer it.
    assert_error(await client.post(f"{REQUESTS}/carol/{answer}", headers=alice.headers), 404, "no follow request")
    assert_error(await client.post(f"{REQUESTS}/carol/{answer}"), 401, "log in")
    assert await snapshot(client) == before
    assert await names(client, REQUESTS, bob) == ["carol"]


@pytest.mark.parametrize("answer", ["approve", "reject"])
async def test_answering_tells_a_blocked_user_nothing_about_the_blocker(client, alice, bob, answer):
    """Found by tests/reliability: 'no follow request from alice' against 'no user ...' told
    bob, whom alice blocks (her profile is a 404 to him), that her name exists."""
    assert (await client.post("/api/v1/users/bob/block", headers=alice.headers)).status_code == 200
    blocker = await client.post(f"{REQUESTS}/alice/{answer}", headers=bob.headers)
    nobody = await client.post(f"{REQUESTS}/zzice/{answer}", headers=bob.headers)
    assert (blocker.status_code, blocker.headers["content-length"]) == (nobody.status_code, nobody.headers["content-length"])
    assert blocker.text.replace("alice", "NAME") == nobody.text.replace("zzice", "NAME")


async def test_request_list_needs_login_and_checks_its_parameters(client, alice, bob):
    assert_error(await client.get(REQUESTS), 401, "log in")
    for query, fragments in [("limit=0", ["limit", ">= 1"]), ("limit=101", ["limit", "<= 100"]),
                             ("limit=x", ["limit", "expected `int`"]), ("cursor=abc", ["cursor"])]:
        assert_error(await client.get(f"{REQUESTS}?{query}", headers=bob.headers), 400, *fragments)


async def test_request_list_pages(client, bob):
    await make_private(client, bob)
    taken: set[str] = set()
    fans = [await register_on_shard(client, 2, "fan", taken) for _ in range(5)]  # one shard: exact order
    for fan in fans:
        assert (await client.post("/api/v1/users/bob/follow", headers=fan.headers)).json() == {"state": "requested"}
    newest_first = [fan.username for fan in reversed(fans)]
    first = (await client.get(REQUESTS, headers=bob.headers, params={"limit": 3})).json()
    assert [u["username"] for u in first["items"]] == newest_first[:3]
    assert first["next_cursor"] is not None
    second = (await client.get(REQUESTS, headers=bob.headers, params={"limit": 3, "cursor": first["next_cursor"]})).json()
    assert [u["username"] for u in second["items"]] == newest_first[3:]
    assert second["next_cursor"] is None


async def test_a_request_that_races_going_public_is_let_in(client, alice, bob):
    """A follow that read the account as private, then waited (here: for the pair's lock)
    while the owner went public, must not leave a request that nobody will ever see
    answered automatically: going public lets everyone who asked in."""
    await make_private(client, bob)
    state = state_of(client)
    graph = state.graph
    ai, bi = int(alice.id), int(bob.id)

    async def scenario() -> str:
        lock = graph._lock(ai, bi)
        await lock.acquire()  # another change on this pair is in progress
        # the follow has read bob (private) and waits for the lock
        following = await start_until_it_waits_for_the_pair_lock(graph, graph.follow(ai, "bob"))
        # What PATCH /me {"private": false} does; there is no request to approve yet.
        await state.accounts.update(bi, {"private": False})
        assert await graph.approve_all_requests(bi) == 0
        lock.release()
        return await following

    assert in_app(client, scenario) == "following"
    assert await names(client, REQUESTS, bob) == []
    assert await counts(client, "bob") == {"posts": 0, "followers": 1, "following": 0}
    assert await edges(client) == {(ai, "following", bi), (bi, "follower", ai)}

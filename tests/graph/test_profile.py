"""GET /api/v1/users/{username}: the profile, its counts and the relationship to the caller."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, profile, snapshot

NOTHING = {"following": False, "requested": False, "followed_by": False, "blocking": False}


async def test_profile_fields_and_empty_relationship(client, alice, bob):
    body = await profile(client, "bob", alice)
    assert body == {
        "id": bob.id,
        "username": "bob",
        "display_name": "",
        "bio": "",
        "private": False,
        "avatar_media_id": None,
        "created_at": bob.account["created_at"],
        "avatar_url": None,
        "counts": {"posts": 0, "followers": 0, "following": 0},
        "relationship": NOTHING,
    }


async def test_anonymous_profile_has_no_relationship(client, alice, bob):
    await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    body = await profile(client, "bob")
    assert body["relationship"] is None
    assert body["counts"]["followers"] == 1


async def test_own_profile_has_no_relationship(client, alice):
    assert (await profile(client, "alice", alice))["relationship"] is None


async def test_relationship_and_counts_after_follows(client, alice, bob, carol):
    assert (await client.post("/api/v1/users/bob/follow", headers=alice.headers)).json() == {"state": "following"}
    assert (await client.post("/api/v1/users/bob/follow", headers=carol.headers)).status_code == 200
    assert (await client.post("/api/v1/users/alice/follow", headers=bob.headers)).status_code == 200

    seen_by_alice = await profile(client, "bob", alice)
    assert seen_by_alice["relationship"] == {**NOTHING, "following": True, "followed_by": True}
    assert seen_by_alice["counts"] == {"posts": 0, "followers": 2, "following": 1}

    seen_by_carol = await profile(client, "bob", carol)
    assert seen_by_carol["relationship"] == {**NOTHING, "following": True}

    alice_seen_by_carol = await profile(client, "alice", carol)
    assert alice_seen_by_carol["relationship"] == NOTHING
    assert alice_seen_by_carol["counts"] == {"posts": 0, "followers": 1, "following": 1}

    carol_seen_by_bob = await profile(client, "carol", bob)
    assert carol_seen_by_bob["relationship"] == {**NOTHING, "followed_by": True}
    assert carol_seen_by_bob["counts"] == {"posts": 0, "followers": 0, "following": 1}


async def test_relationship_shows_a_pending_request(client, alice, bob, carol):
    await client.patch("/api/v1/me", headers=bob.headers, json={"private": True})
    assert (await client.post("/api/v1/users/bob/follow", headers=alice.headers)).json() == {"state": "requested"}
    body = await profile(client, "bob", alice)
    assert body["relationship"] == {**NOTHING, "requested": True}
    assert body["private"] is True
    assert body["counts"]["followers"] == 0  # a request is not a follow
    assert (await profile(client, "alice", bob))["relationship"] == NOTHING  # requests are not "followed_by"


async def test_username_in_the_path_is_case_insensitive(client, alice, bob):
    assert (await profile(client, "BoB", alice))["id"] == bob.id


async def test_unknown_user_is_404(client, alice):
    before = await snapshot(client)
    for viewer in [None, alice.headers]:
        body = assert_error(await client.get("/api/v1/users/nobody", headers=viewer), 404, "no user 'nobody'")
        assert body == {"status_code": 404, "detail": "no user 'nobody'"}
    assert await snapshot(client) == before


async def test_overlong_username_in_the_path_is_400(client):
    assert_error(await client.get("/api/v1/users/" + "x" * 65), 400, "username", "length <= 64")


async def test_blocked_either_way_is_404_like_a_missing_user(client, alice, bob, carol):
    assert (await client.post("/api/v1/users/bob/block", headers=alice.headers)).status_code == 200
    missing = (await client.get("/api/v1/users/nobody", headers=alice.headers)).json()
    for viewer, target in [(alice, "bob"), (bob, "alice")]:
        response = await client.get(f"/api/v1/users/{target}", headers=viewer.headers)
        body = assert_error(response, 404)
        # The same shape and wording as a user who does not exist.
        assert body == {"status_code": 404, "detail": f"no user '{target}'"}
        assert body.keys() == missing.keys() and body["detail"].replace(target, "nobody") == missing["detail"]
    # Third parties and anonymous callers still see both.
    assert (await profile(client, "bob", carol))["id"] == bob.id
    assert (await profile(client, "alice"))["id"] == alice.id


async def test_bad_token_on_a_public_profile_is_401(client, alice):
    assert_error(await client.get("/api/v1/users/alice", headers={"Authorization": "Bearer nope"}), 401, "invalid or revoked")

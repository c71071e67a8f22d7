"""POST and DELETE /api/v1/users/{username}/follow on public accounts."""

from __future__ import annotations

import pytest

from instamini.ids import shard_of
from tests.accounts.helpers import (
    assert_error,
    counts,
    edges,
    profile,
    register_on_shard,
    snapshot,
    state_of,
    sync_in_app,
)


def follow_url(name: str) -> str:
    return f"/api/v1/users/{name}/follow"


@pytest.mark.parametrize("same_shard", [True, False], ids=["same-shard", "cross-shard"])
async def test_follow_and_unfollow_update_both_sides(client, same_shard):
    a = await register_on_shard(client, 0, "fan")
    b = await register_on_shard(client, 0 if same_shard else 1, "star")
    assert (shard_of(int(a.id)) == shard_of(int(b.id))) is same_shard
    ai, bi = int(a.id), int(b.id)

    response = await client.post(follow_url(b.username), headers=a.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"state": "following"}
    assert await edges(client) == {(ai, "following", bi), (bi, "follower", ai)}
    assert await counts(client, a.username) == {"posts": 0, "followers": 0, "following": 1}
    assert await counts(client, b.username) == {"posts": 0, "followers": 1, "following": 0}
    assert (await profile(client, b.username, a))["relationship"]["following"] is True

    response = await client.delete(follow_url(b.username), headers=a.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"state": "none"}
    assert await edges(client) == set()
    assert await counts(client, a.username) == {"posts": 0, "followers": 0, "following": 0}
    assert await counts(client, b.username) == {"posts": 0, "followers": 0, "following": 0}
    assert (await profile(client, b.username, a))["relationship"]["following"] is False

    # And again: follow after unfollow works.
    assert (await client.post(follow_url(b.username), headers=a.headers)).json() == {"state": "following"}
    assert await counts(client, b.username) == {"posts": 0, "followers": 1, "following": 0}


async def test_mutual_follows_are_independent(client, alice, bob):
    await client.post(follow_url("bob"), headers=alice.headers)
    await client.post(follow_url("alice"), headers=bob.headers)
    assert await counts(client, "alice") == {"posts": 0, "followers": 1, "following": 1}
    await client.delete(follow_url("bob"), headers=alice.headers)
    assert await counts(client, "alice") == {"posts": 0, "followers": 1, "following": 0}
    assert await counts(client, "bob") == {"posts": 0, "followers": 0, "following": 1}


async def test_username_is_case_insensitive(client, alice, bob):
    assert (await client.post(follow_url("BOB"), headers=alice.headers)).json() == {"state": "following"}
    assert_error(await client.post(follow_url("bob"), headers=alice.headers), 409, "already follow")
    assert (await client.delete(follow_url("Bob"), headers=alice.headers)).json() == {"state": "none"}


async def test_following_yourself_is_400(client, alice):
    before = await snapshot(client)
    assert_error(await client.post(follow_url("alice"), headers=alice.headers), 400, "yourself")
    assert_error(await client.post(follow_url("ALICE"), headers=alice.headers), 400, "yourself")
    assert_error(await client.delete(follow_url("alice"), headers=alice.headers), 400, "yourself")
    assert await snapshot(client) == before


async def test_following_twice_is_409_and_changes_nothing(client, alice, bob):
    await client.post(follow_url("bob"), headers=alice.headers)
    before = await snapshot(client)
    assert_error(await client.post(follow_url("bob"), headers=alice.headers), 409, "already follow", "bob")
    assert await snapshot(client) == before
    assert await counts(client, "bob") == {"posts": 0, "followers": 1, "following": 0}


async def test_unfollow_when_not_following_is_409(client, alice, bob):
    await client.post(follow_url("alice"), headers=bob.headers)  # the other direction does not count
    before = await snapshot(client)
    assert_error(await client.delete(follow_url("bob"), headers=alice.headers), 409, "do not follow", "bob")
    assert await snapshot(client) == before


async def test_unknown_user_is_404(client, alice):
    before = await snapshot(client)
    assert_error(await client.post(follow_url("ghost"), headers=alice.headers), 404, "no user 'ghost'")
    assert_error(await client.delete(follow_url("ghost"), headers=alice.headers), 404, "no user 'ghost'")
    assert_error(await client.post(follow_url("x" * 65), headers=alice.headers), 400, "username")
    assert await snapshot(client) == before


async def test_anonymous_cannot_follow(client, alice, bob):
    before = await snapshot(client)
    assert_error(await client.post(follow_url("bob")), 401, "log in")
    assert_error(await client.delete(follow_url("bob")), 401, "log in")
    assert_error(await client.post(follow_url("bob"), headers={"Authorization": "Bearer revoked"}), 401, "invalid")
    assert await snapshot(client) == before


async def test_follow_survives_a_cold_cache(client, alice, bob):
    await client.post(follow_url("bob"), headers=alice.headers)
    state = state_of(client)

    def drop() -> None:
        state.graph.relationships.delete((int(alice.id), int(bob.id)))
        state.graph.relationships.delete((int(bob.id), int(alice.id)))
        state.counters.invalidate(int(alice.id), int(bob.id))

    sync_in_app(client, drop)
    assert (await profile(client, "bob", alice))["relationship"]["following"] is True
    assert await counts(client, "bob") == {"posts": 0, "followers": 1, "following": 0}
    assert_error(await client.post(follow_url("bob"), headers=alice.headers), 409, "already follow")

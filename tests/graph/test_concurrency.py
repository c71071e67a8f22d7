"""Racing graph changes: counters stay exact, both halves of every edge agree.

Requests run really concurrently here (see `concurrently` in tests/accounts/helpers.py):
the test client alone would serve them one after another.
"""

from __future__ import annotations

from instamini.ids import shard_of
from tests.accounts.helpers import concurrently, counts, register_on_shard
from tests.graph.helpers import assert_graph_consistent


async def followers_list(client, username: str) -> list[str]:
    seen, cursor = [], None
    while True:
        params = {"limit": 7} if cursor is None else {"limit": 7, "cursor": cursor}
        body = (await client.get(f"/api/v1/users/{username}/followers", params=params)).json()
        seen += [item["username"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


async def test_thirty_followers_ten_leave_concurrently(client):
    taken: set[str] = set()
    target = await register_on_shard(client, 0, "target", taken)
    users = [await register_on_shard(client, i % 4, "fan", taken) for i in range(30)]
    assert {shard_of(int(u.id)) for u in users} == {0, 1, 2, 3}
    leavers = users[::3]
    stayers = [u for u in users if u not in leavers]
    assert len(leavers) == 10 and {shard_of(int(u.id)) for u in leavers} == {0, 1, 2, 3}

    def follow(user):
        return lambda http: http.post(f"/api/v1/users/{target.username}/follow", headers=user.headers)

    responses = concurrently(client, *(follow(u) for u in users))
    assert [r.status_code for r in responses] == [200] * 30
    assert all(r.json() == {"state": "following"} for r in responses)
    assert (await counts(client, target.username))["followers"] == 30

    # Ten leave while the target follows the twenty others back, all at once.
    def unfollow(user):
        return lambda http: http.delete(f"/api/v1/users/{target.username}/follow", headers=user.headers)

    def follow_back(user):
        return lambda http: http.post(f"/api/v1/users/{user.username}/follow", headers=target.headers)

    responses = concurrently(client, *(unfollow(u) for u in leavers), *(follow_back(u) for u in stayers))
    assert [r.status_code for r in responses] == [200] * 30, [r.text for r in responses if r.status_code != 200]

    target_counts = await counts(client, target.username)
    listed = await followers_list(client, target.username)
    all_edges = await assert_graph_consistent(client)
    ti = int(target.id)
    follower_edges = {dst for src, kind, dst in all_edges if src == ti and kind == "follower"}
    assert target_counts["followers"] == len(listed) == len(follower_edges) == 20
    assert sorted(listed) == sorted(u.username for u in stayers)
    assert follower_edges == {int(u.id) for u in stayers}
    assert target_counts["following"] == 20
    for user in stayers:
        assert await counts(client, user.username) == {"posts": 0, "followers": 1, "following": 1}
    for user in leavers:
        assert await counts(client, user.username) == {"posts": 0, "followers": 0, "following": 0}


async def test_duplicate_concurrent_follows_make_one_edge(client):
    a = await register_on_shard(client, 1, "dup")
    b = await register_on_shard(client, 2, "dup")
    responses = concurrently(
        client, *(lambda http: http.post(f"/api/v1/users/{b.username}/follow", headers=a.headers) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5
    await assert_graph_consistent(client)
    assert (await counts(client, b.username))["followers"] == 1
    assert (await counts(client, a.username))["following"] == 1


async def test_follow_unfollow_storm_on_one_pair(client):
    a = await register_on_shard(client, 3, "storm")
    b = await register_on_shard(client, 0, "storm")
    url = f"/api/v1/users/{b.username}/follow"
    calls = [
        (lambda http: http.post(url, headers=a.headers)) if i % 2 == 0 else (lambda http: http.delete(url, headers=a.headers))
        for i in range(12)
    ]
    responses = concurrently(client, *calls)
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    follows = sum(1 for i, r in enumerate(responses) if i % 2 == 0 and r.status_code == 200)
    unfollows = sum(1 for i, r in enumerate(responses) if i % 2 == 1 and r.status_code == 200)
    final = follows - unfollows
    assert final in (0, 1)
    all_edges = await assert_graph_consistent(client)
    assert ((int(a.id), "following", int(b.id)) in all_edges) == (final == 1)
    assert (await counts(client, b.username))["followers"] == final


async def test_block_racing_a_follow_leaves_no_follow(client):
    a = await register_on_shard(client, 0, "blocker")
    b = await register_on_shard(client, 1, "pest")
    responses = concurrently(
        client,
        lambda http: http.post(f"/api/v1/users/{a.username}/follow", headers=b.headers),
        lambda http: http.post(f"/api/v1/users/{b.username}/block", headers=a.headers),
        lambda http: http.post(f"/api/v1/users/{b.username}/follow", headers=a.headers),
        lambda http: http.post(f"/api/v1/users/{a.username}/follow", headers=b.headers),
    )
    assert responses[1].status_code == 200
    assert all(r.status_code in (200, 404, 409) for r in responses), [r.text for r in responses]
    all_edges = await assert_graph_consistent(client)
    ai, bi = int(a.id), int(b.id)
    assert (ai, "blocking", bi) in all_edges
    assert not {(ai, "following", bi), (bi, "following", ai)} & all_edges
    assert await counts(client, a.username) == {"posts": 0, "followers": 0, "following": 0}
    assert await counts(client, b.username) == {"posts": 0, "followers": 0, "following": 0}

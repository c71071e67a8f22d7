"""A restart keeps users, sessions, edges and counts; so does losing the cache directory."""

from __future__ import annotations

import shutil

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from tests.accounts.helpers import snapshot
from tests.conftest import User, register
from tests.graph.helpers import assert_graph_consistent


async def observe(client, users: dict[str, User]) -> dict:
    """Every answer the accounts and graph routes give about these users, to every viewer."""
    seen = {}
    for viewer in [None, *users.values()]:
        who = viewer.username if viewer else "anonymous"
        headers = viewer.headers if viewer else None
        paths = [f"/api/v1/users/{name}{suffix}" for name in users for suffix in ("", "/followers", "/following")]
        if viewer:
            paths += ["/api/v1/me", "/api/v1/follow-requests"]
        for path in paths:
            response = await client.get(path, headers=headers)
            seen[(who, path)] = (response.status_code, response.json())
    return seen


async def build_world(client) -> dict[str, User]:
    users = {name: await register(client, name) for name in ("alice", "bob", "carol", "dave", "erin")}
    alice, bob, carol, dave, erin = users.values()
    assert (await client.patch("/api/v1/me", headers=alice.headers, json={"display_name": "Alice", "bio": "hi"})).status_code == 200
    assert (await client.patch("/api/v1/me", headers=bob.headers, json={"private": True})).status_code == 200
    for actor, target in [(alice, "carol"), (carol, "alice"), (dave, "carol"), (erin, "carol"), (alice, "bob"), (carol, "bob")]:
        assert (await client.post(f"/api/v1/users/{target}/follow", headers=actor.headers)).status_code == 200
    assert (await client.post("/api/v1/follow-requests/carol/approve", headers=bob.headers)).status_code == 200
    assert (await client.post("/api/v1/users/alice/block", headers=dave.headers)).status_code == 200
    return users


async def test_restart_and_lost_cache_give_the_same_answers(config):
    async with AsyncTestClient(create_app(config)) as client:
        users = await build_world(client)
        # A second session for alice; her first one is logged out.
        login = await client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
        assert login.status_code == 201
        revoked = users["alice"]
        users["alice"] = User("alice", login.json()["token"], login.json()["account"])
        assert (await client.delete("/api/v1/sessions/current", headers=revoked.headers)).status_code == 204
        first = await observe(client, users)
        stored = await snapshot(client)
        await assert_graph_consistent(client)

    # Spot checks that the world is what the comparison is about.
    assert first[("anonymous", "/api/v1/users/carol")][1]["counts"] == {"posts": 0, "followers": 3, "following": 2}
    assert first[("bob", "/api/v1/users/bob")][1]["counts"] == {"posts": 0, "followers": 1, "following": 0}
    assert [u["username"] for u in first[("bob", "/api/v1/follow-requests")][1]["items"]] == ["alice"]
    assert first[("dave", "/api/v1/users/alice")][0] == 404
    assert first[("alice", "/api/v1/me")][1]["display_name"] == "Alice"

    for wipe_cache in (False, True):
        if wipe_cache:
            shutil.rmtree(config.data_path / "cache")
        async with AsyncTestClient(create_app(config)) as client:
            assert await snapshot(client) == stored
            assert await observe(client, users) == first, f"wipe_cache={wipe_cache}"
            revoked_answer = await client.get("/api/v1/me", headers=revoked.headers)
            assert revoked_answer.status_code == 401, f"wipe_cache={wipe_cache}"
            await assert_graph_consistent(client)

    # After both restarts, the stores still take writes and logins.
    async with AsyncTestClient(create_app(config)) as client:
        login = await client.post("/api/v1/sessions", json={"username": "bob", "password": "correct horse"})
        assert login.status_code == 201
        assert (await client.post("/api/v1/users/alice/follow", headers=users["erin"].headers)).json() == {"state": "following"}
        followers = (await client.get("/api/v1/users/alice/followers")).json()["items"]
        assert [f["username"] for f in followers] == ["erin", "carol"]  # the new edge is the newest
        assert (await client.get("/api/v1/users/alice")).json()["counts"]["followers"] == 2
        duplicate = await client.post("/api/v1/accounts", json={"username": "Carol", "password": "correct horse"})
        assert duplicate.status_code == 409


async def test_a_cache_left_by_an_unclean_stop_is_not_trusted(config):
    """Without the clean-shutdown marker the cache is wiped: stale entries must not answer."""
    async with AsyncTestClient(create_app(config)) as client:
        alice = await register(client, "alice")
        bob = await register(client, "bob")
        await client.post("/api/v1/users/bob/follow", headers=alice.headers)
        expected = await observe(client, {"alice": alice, "bob": bob})
    (config.data_path / "cache" / "clean-shutdown").unlink()
    async with AsyncTestClient(create_app(config)) as client:
        assert client.app.state.cache.wiped_on_open is True
        assert await observe(client, {"alice": alice, "bob": bob}) == expected

"""Accounts across a real two-instance cluster (`LocalCluster`: subprocesses on loopback).

Every request below goes to the instance that does NOT own the data it touches, so
each one crosses the internal RPC: registration lands on the owner of the username's
shard, the session on the owner of the token's shard, and either instance answers
for a token the other one issued.
"""

from __future__ import annotations

import httpx
import pytest

from instamini.cluster.launch import shard_ranges
from tests.cluster.harness import holders, name_owned_by, two_instances

cluster = two_instances()


def test_the_shards_are_split_in_ranges():
    assert shard_ranges(3, 8) == ["0-2", "3-5", "6-7"] and shard_ranges(2, 4) == ["0-1", "2-3"]
    with pytest.raises(ValueError):
        shard_ranges(5, 4)


def test_register_log_in_and_read_me_through_the_instance_that_does_not_own_the_account(cluster):
    a, b = (httpx.Client(base_url=cluster.urls[name], timeout=30) for name in "ab")
    name = name_owned_by("b", "bea")
    registered = a.post("/api/v1/accounts", json={"username": name, "password": "long enough pw", "display_name": "Bea"})
    assert registered.status_code == 201, registered.text
    assert a.post("/api/v1/accounts", json={"username": name, "password": "another pw!"}).status_code == 409
    assert holders(cluster, "SELECT username FROM users", name) == ["b"]  # only the owner wrote it

    logged_in = a.post("/api/v1/sessions", json={"username": name, "password": "long enough pw"})
    assert logged_in.status_code == 201, logged_in.text
    wrong = b.post("/api/v1/sessions", json={"username": name, "password": "wrong password"})
    assert wrong.status_code == 401

    for token in (registered.json()["token"], logged_in.json()["token"]):
        for client in (a, b):  # whichever instance holds the session row, both answer
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["username"] == name, me.text

    headers = {"Authorization": f"Bearer {logged_in.json()['token']}"}
    edited = a.patch("/api/v1/me", json={"bio": "from instance a"}, headers=headers)
    assert edited.status_code == 200 and edited.json()["bio"] == "from instance a"
    assert b.get("/api/v1/me", headers=headers).json()["bio"] == "from instance a"

    assert b.delete("/api/v1/sessions/current", headers=headers).status_code in (200, 204)
    for client in (a, b):
        assert client.get("/api/v1/me", headers=headers).status_code == 401

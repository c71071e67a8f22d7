"""The follow graph across a real two-instance cluster (`LocalCluster`: subprocesses on loopback).

Each pair below has one user on instance a and one on b, and each change is sent
to the instance that does NOT own the user making it. Every change on a pair runs
on a (the owner of the lower shard), which writes a's half with an outbox row and
hands b's half to b. Edges are looked for in the shard files (each half on its
user's owner) and relationship entries in the LMDB files (only on the viewer's
owner); counts, lists and relationships read the same from either instance. The
last of those stops b, makes changes whose b half cannot be delivered, and watches
a's outbox deliver them, in order, once b is back.

First, in-process: instance "a" of two with a stand-in for "b" that can be switched
off, to step the outbox's retry (`run_once`) and count what it sends.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from litestar.testing import AsyncTestClient

import instamini.graph.plugin
from instamini.app import create_app
from instamini.cluster import RpcUnavailable
from instamini.graph.edges import decode_ops
from instamini.graph.outbox import OutboxMixin
from instamini.stores.meta import shard_for_text
from tests.accounts.helpers import in_app, state_of
from tests.cluster.conftest import TWO, cluster_toml
from tests.cluster.harness import SHARDS, Person, cached, holders, name_owned_by, two_instances
from tests.conftest import make_config

cluster = two_instances()
APPLY_HALF = f"{OutboxMixin.__module__}.{OutboxMixin.apply_half.__qualname__}"

# -- the outbox alone: instance "a" of two, and a stand-in for "b" ---------------------------


class StandInB:
    """Replaces the RPC client's `call`: records the halves sent to "b", or fails as if b were down."""

    def __init__(self) -> None:
        self.up, self.halves, self.attempts = True, [], 0

    async def call(self, instance, procedure, args=None, **options):
        assert instance == "b"
        if procedure != APPLY_HALF:
            return None  # another module's hook telling b about its user (the feed's)
        self.attempts += 1
        if not self.up:
            raise RpcUnavailable("b", "cannot connect")
        user_id, other_id, ops = args
        self.halves.append((user_id, other_id, [(op.add, op.kind) for op in decode_ops(ops)]))


@pytest.fixture
async def quiet_a(tmp_path, monkeypatch):
    """Instance "a" (shards 0-1) whose outbox retries only when the test steps them."""
    monkeypatch.setattr(instamini.graph.plugin, "OUTBOX_RETRY_SECONDS", 3600)
    async with AsyncTestClient(create_app(make_config(tmp_path / "a", cluster_toml("a", TWO)))) as client:
        yield client


def user_on_a(client, stem: str) -> tuple[str, int]:
    """A user of a's, written straight into its shard (registering would make a session, maybe on b)."""
    name = name_owned_by("a", stem)
    state = state_of(client)
    shard = shard_for_text(name, SHARDS)
    user_id = state.ids.next_id(shard)

    def insert(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO usernames (username, user_id) VALUES (?, ?)", (name, user_id))
        conn.execute("INSERT INTO users (id, username, password_hash) VALUES (?, ?, 'unused')", (user_id, name))

    in_app(client, state.meta.write, shard, insert)
    return name, user_id


def waiting_rows(client, shards=(0, 1)) -> int:
    state = state_of(client)
    return sum(in_app(client, state.meta.read, shard, "SELECT count(*) FROM graph_outbox")[0][0] for shard in shards)


async def test_halves_for_an_owner_that_is_down_wait_and_a_step_delivers_them_in_order(quiet_a):
    state = state_of(quiet_a)
    graph, b = state.graph, StandInB()
    state.cluster.client.call = b.call
    ann, ann_id = user_on_a(quiet_a, "ann")
    bob, cid = state.ids.next_id(2), state.ids.next_id(3)  # two of b's users

    b.up = False
    for viewer, change in ((bob, graph.follow), (bob, graph.unfollow), (bob, graph.follow), (cid, graph.follow)):
        in_app(quiet_a, change, viewer, ann)  # each answers: the change is made on a's side
    assert waiting_rows(quiet_a) == 4
    assert in_app(quiet_a, graph.relationship, ann_id, bob).follower
    attempts = b.attempts
    assert in_app(quiet_a, graph.run_once) == 0
    assert b.attempts == attempts + 1  # b did not answer: not asked again this round
    # A stray row in a's copy of a shard it does not own is none of a's business.
    in_app(quiet_a, state.meta.write, 2, lambda conn: conn.execute(
        "INSERT INTO graph_outbox (src, dst, shard, ops) VALUES (1, 2, 3, x'90')"))

    b.up = True
    assert in_app(quiet_a, graph.run_once) == 4
    assert waiting_rows(quiet_a) == 0 and waiting_rows(quiet_a, (2,)) == 1
    followed, unfollowed = [(True, "following")], [(False, "following")]
    assert b.halves == [(bob, ann_id, followed), (bob, ann_id, unfollowed), (bob, ann_id, followed), (cid, ann_id, followed)]
    assert in_app(quiet_a, graph.run_once) == 0 and len(b.halves) == 4


# -- two real instances ------------------------------------------------------------------------


def outbox(cluster) -> dict[str, int]:
    """Rows waiting in graph_outbox, per instance (read off its shard files)."""
    waiting = {}
    for name, server in cluster.servers.items():
        waiting[name] = 0
        for path in (server.data_dir / "meta").glob("shard-*.sqlite"):
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                waiting[name] += conn.execute("SELECT count(*) FROM graph_outbox").fetchone()[0]
    return waiting


def edge_holders(cluster, src: Person, kind: str, dst: Person) -> list[str]:
    sql = f"SELECT src FROM edges WHERE kind = '{kind}' AND dst = {int(dst.id)}"
    return holders(cluster, sql, int(src.id))


def profile(cluster, viewer: Person | None, person: Person) -> list[tuple[int, int, dict | None]]:
    """(followers, following, relationship) of `person` as each instance shows it to `viewer`."""
    seen = []
    for name in "ab":
        client = viewer.on(name) if viewer else httpx.Client(base_url=cluster.urls[name], timeout=30)
        answer = client.get(f"/api/v1/users/{person.username}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.append((body["counts"]["followers"], body["counts"]["following"], body["relationship"]))
    return seen


def listed(viewer: Person, person: Person, which: str) -> list[list[str]]:
    pages = [viewer.on(name).get(f"/api/v1/users/{person.username}/{which}") for name in "ab"]
    assert all(page.status_code == 200 for page in pages), [page.text for page in pages]
    return [[user["username"] for user in page.json()["items"]] for page in pages]


def relation(following=False, requested=False, followed_by=False, blocking=False) -> dict:
    return {"following": following, "requested": requested, "followed_by": followed_by, "blocking": blocking}


def test_users_on_both_instances_follow_each_other_through_the_other_instance(cluster):
    ann, bob = Person(cluster, name_owned_by("a", "ann")), Person(cluster, name_owned_by("b", "bob"))
    assert ann.on("b").post(f"/api/v1/users/{bob.username}/follow").json() == {"state": "following"}
    assert bob.on("a").post(f"/api/v1/users/{ann.username}/follow").json() == {"state": "following"}
    assert ann.on("b").post(f"/api/v1/users/{bob.username}/follow").status_code == 409

    # Each half on its own user's owner, nothing left in an outbox.
    assert edge_holders(cluster, ann, "following", bob) == ["a"] and edge_holders(cluster, bob, "follower", ann) == ["b"]
    assert edge_holders(cluster, bob, "following", ann) == ["b"] and edge_holders(cluster, ann, "follower", bob) == ["a"]
    assert outbox(cluster) == {"a": 0, "b": 0}

    both = relation(following=True, followed_by=True)
    assert profile(cluster, ann, bob) == [(1, 1, both)] * 2
    assert profile(cluster, bob, ann) == [(1, 1, both)] * 2
    assert profile(cluster, None, bob) == [(1, 1, None)] * 2
    assert listed(ann, bob, "followers") == [[ann.username]] * 2
    assert listed(bob, bob, "following") == [[ann.username]] * 2
    # A relationship is cached by its viewer's owner only, whoever asked.
    for key, owner in (((int(ann.id), int(bob.id)), "a"), ((int(bob.id), int(ann.id)), "b")):
        assert [name for name in "ab" if cached(cluster, name, "relationships", key)] == [owner]

    assert ann.on("b").delete(f"/api/v1/users/{bob.username}/follow").json() == {"state": "none"}
    assert profile(cluster, ann, bob) == [(0, 1, relation(followed_by=True))] * 2
    assert profile(cluster, bob, ann) == [(1, 0, relation(following=True))] * 2
    assert listed(bob, bob, "followers") == [[]] * 2
    assert outbox(cluster) == {"a": 0, "b": 0}


def test_a_private_accounts_requests_are_answered_across_instances(cluster):
    carol = Person(cluster, name_owned_by("b", "carol"))
    dan, eve = Person(cluster, name_owned_by("a", "dan")), Person(cluster, name_owned_by("a", "eve"))
    assert carol.on("a").patch("/api/v1/me", json={"private": True}).status_code == 200
    for asker in (dan, eve):
        assert asker.on("b").post(f"/api/v1/users/{carol.username}/follow").json() == {"state": "requested"}
    waiting = [[u["username"] for u in carol.on(name).get("/api/v1/follow-requests").json()["items"]] for name in "ab"]
    assert waiting == [[eve.username, dan.username]] * 2
    assert profile(cluster, dan, carol) == [(0, 0, relation(requested=True))] * 2
    assert [dan.on(name).get(f"/api/v1/users/{carol.username}/followers").status_code for name in "ab"] == [403, 403]

    assert carol.on("a").post(f"/api/v1/follow-requests/{dan.username}/approve").json() == {"state": "following"}
    assert carol.on("a").post(f"/api/v1/follow-requests/{eve.username}/reject").json() == {"state": "none"}
    assert carol.on("b").post(f"/api/v1/follow-requests/{eve.username}/approve").status_code == 404

    assert profile(cluster, dan, carol) == [(1, 0, relation(following=True))] * 2
    assert profile(cluster, eve, carol) == [(1, 0, relation())] * 2
    assert profile(cluster, carol, dan) == [(0, 1, relation(followed_by=True))] * 2
    assert listed(dan, carol, "followers") == [[dan.username]] * 2
    assert edge_holders(cluster, carol, "follower", dan) == ["b"] and edge_holders(cluster, dan, "following", carol) == ["a"]
    requests = "SELECT src FROM edges WHERE kind = 'requested' UNION SELECT dst FROM edges WHERE kind = 'request_from'"
    assert holders(cluster, requests, int(eve.id)) == []
    assert outbox(cluster) == {"a": 0, "b": 0}


def test_a_block_across_instances_ends_the_follows_and_hides_each_from_the_other(cluster):
    frank, gina = Person(cluster, name_owned_by("a", "frank")), Person(cluster, name_owned_by("b", "gina"))
    hal = Person(cluster, name_owned_by("b", "hal"))
    assert frank.on("b").post(f"/api/v1/users/{gina.username}/follow").status_code == 200
    assert gina.on("a").post(f"/api/v1/users/{frank.username}/follow").status_code == 200
    for fan in (frank, gina):
        assert fan.on("a").post(f"/api/v1/users/{hal.username}/follow").status_code == 200
    assert listed(frank, hal, "followers") == [[gina.username, frank.username]] * 2

    assert gina.on("a").post(f"/api/v1/users/{frank.username}/block").json() == {"blocking": True}
    assert gina.on("b").post(f"/api/v1/users/{frank.username}/block").status_code == 409
    for name in "ab":
        assert frank.on(name).get(f"/api/v1/users/{gina.username}").status_code == 404
        assert gina.on(name).get(f"/api/v1/users/{frank.username}").status_code == 404
        assert frank.on(name).post(f"/api/v1/users/{gina.username}/follow").status_code == 404
    assert profile(cluster, None, gina) == [(0, 1, None)] * 2  # only hal is left
    assert profile(cluster, None, frank) == [(0, 1, None)] * 2
    # hidden_from runs on the viewer's owner, wherever the list is asked.
    assert listed(frank, hal, "followers") == [[frank.username]] * 2
    assert listed(gina, hal, "followers") == [[gina.username]] * 2
    assert edge_holders(cluster, gina, "blocking", frank) == ["b"] and edge_holders(cluster, frank, "blocked_by", gina) == ["a"]

    assert gina.on("a").delete(f"/api/v1/users/{frank.username}/block").json() == {"blocking": False}
    assert profile(cluster, frank, gina) == [(0, 1, relation())] * 2
    assert listed(frank, hal, "followers") == [[gina.username, frank.username]] * 2
    assert outbox(cluster) == {"a": 0, "b": 0}


def test_while_b_is_down_following_its_user_is_a_503_that_changes_nothing_and_works_once_b_is_back(cluster):
    """Sessions live on their user's shard, so while b is down its users cannot act and no
    one can look them up (their names are on b too): a follow of one is refused whole, with
    Retry-After, before anything is written. (A change whose other owner fails between the
    two halves keeps its outbox row until that owner answers: tests/graph/test_outbox.py
    for the replay, test_cluster_three.py for a killed instance catching up.)"""
    ivy, jay = Person(cluster, name_owned_by("b", "ivy")), Person(cluster, name_owned_by("a", "jay"))
    cluster.servers["b"].stop()
    try:  # jay's session is on a (his own shard's owner), so a alone recognises him
        answer = jay.on("a").post(f"/api/v1/users/{ivy.username}/follow")
        assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
        assert jay.on("a").get("/api/v1/me").status_code == 200
        jay_on_a = jay.on("a").get(f"/api/v1/users/{jay.username}").json()["counts"]
        assert (jay_on_a["followers"], jay_on_a["following"]) == (0, 0)
        assert outbox(cluster) == {"a": 0, "b": 0} and edge_holders(cluster, jay, "following", ivy) == []
    finally:
        cluster.servers["b"].start()

    assert jay.on("a").post(f"/api/v1/users/{ivy.username}/follow").json() == {"state": "following"}
    assert edge_holders(cluster, jay, "following", ivy) == ["a"]
    assert edge_holders(cluster, ivy, "follower", jay) == ["b"]
    assert profile(cluster, jay, ivy) == [(1, 0, relation(following=True))] * 2
    assert profile(cluster, ivy, jay) == [(0, 1, relation(followed_by=True))] * 2
    assert listed(ivy, jay, "following") == [[ivy.username]] * 2

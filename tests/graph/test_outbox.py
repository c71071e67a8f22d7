"""The graph outbox: a change interrupted between its two shards is finished by `replay_outbox()`."""

from __future__ import annotations


from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.graph.edges import EdgeOp, apply_ops, encode_ops
from instamini.ids import shard_of
from tests.accounts.helpers import count_rows, counts, edges, in_app, register_on_shard, snapshot, state_of, write
from tests.graph.helpers import assert_graph_consistent, start_until_it_waits_for_the_pair_lock

ZERO = {"posts": 0, "followers": 0, "following": 0}


async def two_shards(client):
    a = await register_on_shard(client, 0, "left")
    b = await register_on_shard(client, 1, "right")
    assert shard_of(int(a.id)) != shard_of(int(b.id))
    return a, b


async def crash_after_local_half(client, a: int, b: int, ops: list[EdgeOp]) -> None:
    """What `GraphService._change` writes on a's shard before a crash stops it."""
    mirror = [op.mirrored() for op in ops]

    def local_half(conn):
        apply_ops(conn, ops)
        conn.execute(
            "INSERT INTO graph_outbox (src, dst, shard, ops) VALUES (?, ?, ?, ?)", (a, b, shard_of(b), encode_ops(mirror))
        )

    await write(client, shard_of(a), local_half)


def replay(client) -> int:
    return in_app(client, state_of(client).graph.replay_outbox)


async def test_replay_finishes_an_interrupted_follow(client):
    a, b = await two_shards(client)
    ai, bi = int(a.id), int(b.id)
    assert await counts(client, b.username) == ZERO  # warm the cache with the old answer
    edge_id = state_of(client).ids.next_id(shard_of(ai))
    await crash_after_local_half(client, ai, bi, [EdgeOp(True, ai, "following", bi, edge_id)])
    assert await edges(client) == {(ai, "following", bi)}  # half done
    assert await count_rows(client, "SELECT count(*) FROM graph_outbox") == 1

    assert replay(client) == 1

    assert await edges(client) == {(ai, "following", bi), (bi, "follower", ai)}
    await assert_graph_consistent(client)
    assert await counts(client, a.username) == {"posts": 0, "followers": 0, "following": 1}
    assert await counts(client, b.username) == {"posts": 0, "followers": 1, "following": 0}
    assert (await client.get(f"/api/v1/users/{b.username}", headers=a.headers)).json()["relationship"]["following"] is True
    followers = (await client.get(f"/api/v1/users/{b.username}/followers")).json()["items"]
    assert [f["username"] for f in followers] == [a.username]

    # Replaying again finds nothing and changes nothing.
    before = await snapshot(client)
    assert replay(client) == 0
    assert await snapshot(client) == before

    # The finished follow behaves like any other.
    assert (await client.delete(f"/api/v1/users/{b.username}/follow", headers=a.headers)).json() == {"state": "none"}
    assert await counts(client, b.username) == ZERO
    await assert_graph_consistent(client)


async def test_replaying_a_half_that_was_already_applied_changes_nothing(client):
    # The crash came after the other shard's commit but before the outbox row was deleted.
    a, b = await two_shards(client)
    ai, bi = int(a.id), int(b.id)
    assert (await client.post(f"/api/v1/users/{b.username}/follow", headers=a.headers)).status_code == 200
    edge_id = state_of(client).ids.next_id(shard_of(ai))
    mirror = [EdgeOp(True, bi, "follower", ai, edge_id)]
    await write(
        client,
        shard_of(ai),
        lambda conn: conn.execute(
            "INSERT INTO graph_outbox (src, dst, shard, ops) VALUES (?, ?, ?, ?)", (ai, bi, shard_of(bi), encode_ops(mirror))
        ),
    )
    edges_before = await edges(client)
    assert replay(client) == 1
    assert await edges(client) == edges_before
    await assert_graph_consistent(client)
    assert await counts(client, b.username) == {"posts": 0, "followers": 1, "following": 0}


async def test_replay_finishes_an_interrupted_block(client):
    a, b = await two_shards(client)
    ai, bi = int(a.id), int(b.id)
    await client.post(f"/api/v1/users/{b.username}/follow", headers=a.headers)
    await client.post(f"/api/v1/users/{a.username}/follow", headers=b.headers)
    assert await counts(client, b.username) == {"posts": 0, "followers": 1, "following": 1}

    ops = [EdgeOp(False, ai, kind, bi) for kind in ("following", "follower", "requested", "request_from")]
    ops.append(EdgeOp(True, ai, "blocking", bi, state_of(client).ids.next_id(shard_of(ai))))
    await crash_after_local_half(client, ai, bi, ops)
    assert replay(client) == 1

    assert await edges(client) == {(ai, "blocking", bi), (bi, "blocked_by", ai)}
    await assert_graph_consistent(client)
    assert await counts(client, a.username) == ZERO
    assert await counts(client, b.username) == ZERO
    assert (await client.get(f"/api/v1/users/{a.username}", headers=b.headers)).status_code == 404


async def test_next_start_replays_the_outbox(config):
    async with AsyncTestClient(create_app(config)) as client:
        a, b = await two_shards(client)
        ai, bi = int(a.id), int(b.id)
        edge_id = state_of(client).ids.next_id(shard_of(ai))
        await crash_after_local_half(client, ai, bi, [EdgeOp(True, ai, "following", bi, edge_id)])
    async with AsyncTestClient(create_app(config)) as client:
        assert await count_rows(client, "SELECT count(*) FROM graph_outbox") == 0
        assert await edges(client) == {(ai, "following", bi), (bi, "follower", ai)}
        await assert_graph_consistent(client)
        assert await counts(client, b.username) == {"posts": 0, "followers": 1, "following": 0}
        assert await counts(client, a.username) == {"posts": 0, "followers": 0, "following": 1}


async def test_replay_skips_a_row_that_its_change_finished_meanwhile(client):
    """replay_outbox() reads the rows, then takes each pair's lock: by then the change that
    wrote a row may have finished and deleted it, and a later change may have moved on.
    Applying the stale half would resurrect an edge on one side only."""
    a, b = await two_shards(client)
    ai, bi = int(a.id), int(b.id)
    state = state_of(client)
    graph, meta = state.graph, state.meta

    async def scenario() -> None:
        lock = graph._lock(ai, bi)
        await lock.acquire()  # a follow is in flight and holds the pair's lock
        edge_id = state.ids.next_id(shard_of(ai))
        ops = [EdgeOp(True, ai, "following", bi, edge_id)]
        mirror = [op.mirrored() for op in ops]

        def local_half(conn):
            apply_ops(conn, ops)
            return conn.execute(
                "INSERT INTO graph_outbox (src, dst, shard, ops) VALUES (?, ?, ?, ?)", (ai, bi, shard_of(bi), encode_ops(mirror))
            ).lastrowid

        outbox_id = await meta.write(shard_of(ai), local_half)

        # replay has read the row and waits for the lock
        replaying = await start_until_it_waits_for_the_pair_lock(graph, graph.replay_outbox())
        # The follow finishes, then an unfollow runs, both before replay gets the lock.
        await meta.write(shard_of(bi), lambda conn: apply_ops(conn, mirror))
        await meta.write(shard_of(ai), lambda conn: conn.execute("DELETE FROM graph_outbox WHERE id = ?", (outbox_id,)))
        await graph._change(ai, bi, [EdgeOp(False, ai, "following", bi)])
        lock.release()
        await replaying

    in_app(client, scenario)
    assert await edges(client) == set()
    await assert_graph_consistent(client)
    assert await counts(client, b.username) == ZERO
    assert await counts(client, a.username) == ZERO

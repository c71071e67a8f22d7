"""Graph-specific checks shared by the graph tests."""

from __future__ import annotations

import asyncio
from collections import Counter

from instamini.graph.edges import MIRROR
from tests.accounts.helpers import count_rows, edges, read, state_of


async def stored_counters(client) -> dict[tuple[int, str], int]:
    """The graph's counters (the table holds other modules' too: posts, unread notifications)."""
    found = {}
    sql = "SELECT object_id, name, value FROM counters WHERE name IN ('followers', 'following')"
    for shard in range(state_of(client).meta.shard_count):
        for row in await read(client, shard, sql):
            found[(row["object_id"], row["name"])] = row["value"]
    return found


async def assert_graph_consistent(client) -> set[tuple[int, str, int]]:
    """Every edge has its mirror; every stored counter equals the edges it counts; no outbox left."""
    all_edges = await edges(client)
    for src, kind, dst in all_edges:
        assert (dst, MIRROR[kind], src) in all_edges, (src, kind, dst)
    from_edges = Counter()
    for src, kind, _ in all_edges:
        if kind == "following":
            from_edges[(src, "following")] += 1
        elif kind == "follower":
            from_edges[(src, "followers")] += 1
    stored = await stored_counters(client)
    for key in set(stored) | set(from_edges):
        assert stored.get(key, 0) == from_edges.get(key, 0), key
    assert await count_rows(client, "SELECT count(*) FROM graph_outbox") == 0
    return all_edges


async def start_until_it_waits_for_the_pair_lock(graph, coroutine) -> asyncio.Task:
    """Start `coroutine` as a task and return once it has asked the graph for a pair lock.

    Tests hold that lock beforehand, so the task is then parked at a known point, and the
    test can change the world under it without sleeping.
    """
    asked = asyncio.Event()
    original_lock = graph._lock

    def spy(x: int, y: int) -> asyncio.Lock:
        asked.set()
        return original_lock(x, y)

    graph._lock = spy
    try:
        task = asyncio.create_task(coroutine)
        await asked.wait()
    finally:
        del graph._lock
    return task

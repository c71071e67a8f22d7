"""Graph-specific checks shared by the graph tests."""

from __future__ import annotations

from collections import Counter

from instamini.graph.edges import MIRROR
from tests.accounts.helpers import count_rows, edges, read, state_of


async def stored_counters(client) -> dict[tuple[int, str], int]:
    found = {}
    for shard in range(state_of(client).meta.shard_count):
        for row in await read(client, shard, "SELECT object_id, name, value FROM counters"):
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

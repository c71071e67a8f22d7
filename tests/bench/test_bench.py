"""Short, bounded versions of the benchmark: they check that it measures, not how fast."""

from __future__ import annotations

import asyncio

from instamini.bench.foundation import follow_writes
from instamini.bench.loadgen import python_load
from instamini.bench.server import ServerProcess, http_json


def test_python_load_generator_counts_requests_and_errors(tmp_path):
    with ServerProcess(None, tmp_path / "data") as server:
        status, body = http_json("POST", server.url + "/api/v1/accounts", {"username": "b", "password": "password123"})
        assert status == 201
        headers = {"Authorization": f"Bearer {body['token']}"}
        good = asyncio.run(python_load("127.0.0.1", server.port, ["/api/v1/users/b"], headers, 0.5, 4))
        bad = asyncio.run(python_load("127.0.0.1", server.port, ["/api/v1/users/nobody"], headers, 0.3, 2))
    assert good.requests > 0 and good.errors == 0 and good.rps > 0 and good.p99_ms >= good.p50_ms
    assert bad.requests > 0 and bad.errors == bad.requests  # every 404 counted as an error


async def test_group_commit_needs_fewer_commits_than_follows(tmp_path):
    grouped = await follow_writes(tmp_path / "g", True, users=40, follows_each=5, concurrency=32)
    single = await follow_writes(tmp_path / "s", False, users=40, follows_each=5, concurrency=32)
    assert grouped["follows"] == single["follows"] == 200
    # Without group commit every write job is its own transaction (2 or 3 per cross-shard follow).
    assert single["commits"] >= single["follows"]
    assert grouped["commits"] < single["commits"]

"""What a cross-instance call costs, beside the same read made locally.

Starts instance "b" of a two-instance cluster as a real server subprocess on a
loopback port (the default modules, pinned to core 0), and opens instance "a"
in-process (this script, pinned to core 1). Then, one call after another (latency,
not throughput), it times:
- a local `state.meta.read` of one small row (the baseline: a reader-thread hop);
- the same read as a call to this instance's own procedure (`client.call("a", ...)`:
  the RPC's encoding and dispatch without HTTP, as a single-instance install pays);
- `GET /healthz` on "b" with a plain httpx client (HTTP and Litestar alone, no RPC);
- `cluster.ping` and the same `meta.read` on "b" over HTTP (signed, msgpack);
- 20 `meta.read` calls to "b" as one batch, against 20 single calls one after another
  and 20 single calls at once (asyncio.gather: 20 requests in flight).

    python benchmarks/rpc_overhead.py [--n 2000] [--batches 300] [--out rpc.json]

Cost: about 40 s with the defaults, most of it the single calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from instamini.app import create_app
from instamini.bench.server import ServerProcess, free_port
from instamini.cluster import RpcCall
from instamini.config import decode_config

from demo_data import summary  # benchmarks/ is the script's folder

SECRET = "benchmark secret, long enough"
SQL = "SELECT module, version FROM schema_versions WHERE module = ?"
CLUSTER = """
[cluster]
instance = "{local}"
instances = [{{name = "a", url = "http://127.0.0.1:1", shards = "0-3"}}, {{name = "b", url = "{url_b}", shards = "4-7"}}]
secret = "{secret}"
"""
# Instance "a" needs nothing but its stores and the cluster module: it is the caller.
LOCAL = """
[server]
data_dir = "{data}"
[modules]
accounts = false
graph = false
media = false
posts = false
ranker = false
feed = false
realtime = false
messages = false
notifications = false
stories = false
search = false
explore = false
moderation = false
web = false
[plugins]
dirs = []
"""


async def interleaved(calls: dict, rounds: int, warmup: int) -> dict:
    """Each call once per round, in turn, so that whatever else the machine does hits them all alike."""
    for _ in range(warmup):
        for call in calls.values():
            await call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: summary(values) for name, values in times.items()}


async def measure(state, url_b: str, n: int, batches: int) -> dict:
    client, plain = state.cluster.client, httpx.AsyncClient(trust_env=False)
    read = {"shard": 4, "sql": SQL, "params": ["counters"]}
    local_read = {**read, "shard": 0}
    assert await client.call("b", "meta.read", read) == [["counters", 1]]
    twenty = [RpcCall("meta.read", read)] * 20

    async def twenty_in_turn():
        for _ in range(20):
            await client.call("b", "meta.read", read)

    async def twenty_at_once():
        await asyncio.gather(*(client.call("b", "meta.read", read) for _ in range(20)))

    # Each local read comes after an HTTP call, so both find the reader thread equally idle.
    singles = await interleaved({
        "GET /healthz on b (plain httpx)": lambda: plain.get(url_b + "/healthz"),
        "local state.meta.read": lambda: state.meta.read(0, SQL, ["counters"]),
        "cluster.ping on b": lambda: client.call("b", "cluster.ping"),
        "local meta.read through the registry (no HTTP)": lambda: client.call("a", "meta.read", local_read),
        "meta.read on b": lambda: client.call("b", "meta.read", read),
    }, n, warmup=100)
    twenties = await interleaved({
        "20 meta.read on b, one batch": lambda: client.batch("b", twenty),
        "20 meta.read on b, single calls in turn": twenty_in_turn,
        "20 meta.read on b, single calls at once": twenty_at_once,
    }, batches, warmup=20)
    await plain.aclose()
    return {**singles, **twenties}


async def run(root: Path, n: int, batches: int) -> dict:
    port_b = free_port()
    url_b = f"http://127.0.0.1:{port_b}"
    config_b = root / "b.toml"
    config_b.write_text("[plugins]\ndirs = []\n" + CLUSTER.format(local="b", url_b=url_b, secret=SECRET))
    with ServerProcess(config_b, root / "b", cpu=0, port=port_b):
        text = LOCAL.format(data=root / "a") + CLUSTER.format(local="a", url_b=url_b, secret=SECRET)
        app = create_app(decode_config(text, source="rpc_overhead"))
        async with app.lifespan():
            return await measure(app.state, url_b, n, batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="timed single calls per figure")
    parser.add_argument("--batches", type=int, default=300, help="timed rounds of 20 calls per figure")
    parser.add_argument("--out", help="also write the figures here as JSON")
    options = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})  # the server has core 0
    with tempfile.TemporaryDirectory(prefix="instamini-rpc-") as temporary:
        figures = asyncio.run(run(Path(temporary), options.n, options.batches))
    width = max(map(len, figures))
    print(f"{'':{width}}  {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, figure in figures.items():
        print(f"{name:{width}}  {figure['p50_ms']:8.3f} {figure['p99_ms']:8.3f} {figure['max_ms']:8.3f}")
    if options.out:
        Path(options.out).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""The same request mix against a cluster of 1, 2 and 3 instances on this machine.

For each size it starts a fresh `LocalCluster` (real server subprocesses on loopback),
seeds it through the API (people spread over every instance by their names' shards,
follows at random, a photo post each for some of them, fanned out by the instances
themselves), then runs a closed loop of `--concurrency` clients for `--seconds`, each
sending its requests to a random instance:

    60% GET /api/v1/feed    30% GET /api/v1/users/{someone}    10% POST a like

and reports requests per second (and per core: this machine has two, shared by all the
instances and this script), p50 and p99, and how many internal RPC calls the instances
made. `--route owner` sends each request to the instance that owns its sender instead:
what a proxy at the door can do, since a token names its user's shard (`<shard>.<random>`),
so the session check and the page are local and only other owners' data travels;
`--route edge` sends every request through `python -m instamini edge` in front of the
cluster, which does that routing itself (edge/routing.py), one proxy hop included. On one instance nothing crosses the network; on two and three most requests touch
another instance's data, which is the price of scaling out measured on a machine that
cannot show its gain (every instance competes for the same two cores).

    python benchmarks/cluster_mix.py [--sizes 1,2,3] [--users 60] [--seconds 10] [--concurrency 16] [--route random|owner|edge]

Cost: about 30 s per size with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

from instamini.cluster.launch import LocalCluster

FAST = """
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
logins_per_address_per_minute = 100000
registrations_per_address_per_minute = 100000
[media]
uploads_per_address_per_minute = 100000
[plugins]
dirs = []
"""


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), ((seed * 40) % 256, (seed * 90) % 256, 120)).save(buffer, "JPEG")
    return buffer.getvalue()


async def seed(urls: list[str], users: int, rng: random.Random) -> tuple[list[dict], list[str]]:
    people, post_ids = [], []
    async with httpx.AsyncClient(timeout=60) as client:
        for n in range(users):
            answer = await client.post(rng.choice(urls) + "/api/v1/accounts",
                                       json={"username": f"user{n}", "password": "benchmark password"})
            answer.raise_for_status()
            token = answer.json()["token"]
            people.append({"name": f"user{n}", "shard": int(token.partition(".")[0]),
                           "headers": {"Authorization": f"Bearer {token}"}})
        for person in people:
            for other in rng.sample(people, min(10, users - 1)):
                if other is not person:
                    await client.post(rng.choice(urls) + f"/api/v1/users/{other['name']}/follow", headers=person["headers"])
        for n, person in enumerate(people[: max(1, users // 3)]):
            base = rng.choice(urls)
            media = await client.post(base + "/api/v1/media", files={"file": ("p.jpg", jpeg(n))}, headers=person["headers"])
            media.raise_for_status()
            media_id = media.json()["id"]
            deadline = time.monotonic() + 60
            while (await client.get(base + f"/api/v1/media/{media_id}", headers=person["headers"])).json()["status"] != "ready":
                if time.monotonic() > deadline:
                    raise RuntimeError("an upload did not become ready within 60 s")
                await asyncio.sleep(0.05)
            post = await client.post(base + "/api/v1/posts", json={"caption": f"post {n}", "media_ids": [media_id]},
                                     headers=person["headers"])
            post.raise_for_status()
            post_ids.append(post.json()["id"])
    return people, post_ids


def owners_by_shard(cluster: LocalCluster) -> dict[int, str]:
    """shard -> the URL of the instance that owns it, from the cluster's ranges ("0-2", "3")."""
    owners = {}
    for name, ranges in cluster.shards.items():
        first, _, last = ranges.partition("-")
        for shard in range(int(first), int(last or first) + 1):
            owners[shard] = cluster.urls[name]
    return owners


async def mix(urls: list[str], people: list[dict], post_ids: list[str], seconds: float, concurrency: int,
              rng: random.Random, owners: dict[int, str] | None = None) -> dict:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < stop:
            person, base, roll = rng.choice(people), rng.choice(urls), rng.random()
            if owners is not None:  # routed at the door to the sender's own instance
                base = owners[person["shard"]]
            started = time.perf_counter()
            if roll < 0.6:
                answer = await client.get(base + "/api/v1/feed", headers=person["headers"])
            elif roll < 0.9:
                answer = await client.get(base + f"/api/v1/users/{rng.choice(people)['name']}", headers=person["headers"])
            else:
                answer = await client.post(base + f"/api/v1/posts/{rng.choice(post_ids)}/like", headers=person["headers"])
            latencies.append(time.perf_counter() - started)
            errors += answer.status_code >= 400

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency * 3)) as client:
        began = time.monotonic()
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
        "rps_per_core": round(len(latencies) / elapsed / 2, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


def rpc_calls(urls: list[str]) -> int:
    total = 0
    for url in urls:
        text = httpx.get(url + "/metrics").text
        total += sum(int(float(value)) for value in re.findall(r"^instamini_rpc_client_calls_total\{[^}]*\} (\S+)$", text, re.M))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,3")
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--route", choices=["random", "owner", "edge"], default="random")
    parser.add_argument("--out")
    options = parser.parse_args()
    report = {}
    for size in [int(s) for s in options.sizes.split(",")]:
        rng = random.Random(1)
        via_edge = options.route == "edge"
        with tempfile.TemporaryDirectory() as root, LocalCluster(Path(root), size, extra_toml=FAST, edge=via_edge) as cluster:
            urls = list(cluster.urls.values())
            people, post_ids = asyncio.run(seed(urls, options.users, rng))
            before = rpc_calls(urls)
            owners = owners_by_shard(cluster) if options.route == "owner" else None
            targets = [cluster.edge.url] if via_edge else urls
            result = asyncio.run(mix(targets, people, post_ids, options.seconds, options.concurrency, rng, owners))
            result["rpc_calls_per_request"] = round((rpc_calls(urls) - before) / max(1, result["requests"]), 2)
            report[size] = result
            print(f"{size} instance(s): {json.dumps(result)}", flush=True)
    if options.out:
        Path(options.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

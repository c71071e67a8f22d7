"""The foundation benchmark: profile reads against /healthz, hashing, follow writes.

Three figures, each as the issue asks:
1. authenticated `GET /api/v1/users/{username}` throughput as a ratio to `/healthz`
   on the same server in the same run (server pinned to core 0, load to core 1);
2. argon2id password hashes per second at the configured (OWASP) parameters;
3. follow writes per second through the graph service, with and without group
   commit, and how many fsyncs (commits) each needed.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import msgspec

from ..accounts.passwords import Passwords
from ..app import create_app
from ..config import Config, decode_config
from .loadgen import load
from .server import ServerProcess, http_json

SERVER_TOML = """
[accounts]
registrations_per_address_per_minute = 100000
logins_per_address_per_minute = 100000
[moderation]
spam_rate_per_minute = 1000000   # simulated people write far faster than a person; not spam
"""


def _cpus() -> tuple[int | None, int | None]:
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


def profile_vs_healthz(workdir: Path, seconds: float, users: int, connections: int, tool: str) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "bench.toml"
    config_file.write_text(SERVER_TOML)
    server_cpu, load_cpu = _cpus()
    with ServerProcess(config_file, workdir / "data", cpu=server_cpu) as server:
        names = [f"bench{i}" for i in range(users)]
        tokens = []
        for name in names:
            status, body = http_json("POST", server.url + "/api/v1/accounts", {"username": name, "password": "benchmark-password"})
            assert status == 201, body
            tokens.append(body["token"])
        headers = {"Authorization": f"Bearer {tokens[0]}"}
        for name in random.sample(names, min(20, users)):  # a few relationships to report
            http_json("POST", f"{server.url}/api/v1/users/{name}/follow", headers=headers)
        profiles = [f"/api/v1/users/{name}" for name in names]
        port = server.port

        def run(paths, with_headers):
            return load("127.0.0.1", port, paths, with_headers, seconds, connections, cpu=load_cpu, tool=tool)

        run(["/healthz"], {})  # warm up both paths and the cache
        run(profiles, headers)
        healthz_before = run(["/healthz"], {})
        profile = run(profiles, headers)
        healthz_after = run(["/healthz"], {})
    healthz_rps = (healthz_before.rps + healthz_after.rps) / 2
    return {
        "healthz_before": msgspec.to_builtins(healthz_before),
        "profile": msgspec.to_builtins(profile),
        "healthz_after": msgspec.to_builtins(healthz_after),
        "profile_to_healthz_ratio": round(profile.rps / healthz_rps, 3),
        "users": users,
        "connections": connections,
    }


async def password_hashes(count: int) -> dict:
    settings = Config().accounts
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        max_concurrent=settings.max_concurrent_hashes,
    )
    started = time.perf_counter()
    await asyncio.gather(*(passwords.hash(f"password-{i}") for i in range(count)))
    elapsed = time.perf_counter() - started
    return {
        "hashes": count,
        "hashes_per_second": round(count / elapsed, 1),
        "params": f"argon2id m={settings.argon2_memory_kib} KiB t={settings.argon2_time_cost} p={settings.argon2_parallelism}",
        "max_concurrent": settings.max_concurrent_hashes,
    }


async def follow_writes(workdir: Path, group_commit: bool, users: int, follows_each: int, concurrency: int) -> dict:
    toml = f"""
[server]
data_dir = "{workdir}"
[meta]
group_commit = {str(group_commit).lower()}
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
max_waiting_hashes = 1000   # every account is registered at once below: a flood the default would turn away
[plugins]
dirs = []
"""
    app = create_app(decode_config(toml, source="bench"))
    async with app.lifespan():
        state = app.state
        names = [f"user{i}" for i in range(users)]
        await asyncio.gather(*(state.accounts.register(name, "benchmark-password") for name in names))
        ids = {name: await state.accounts.id_for_username(name) for name in names}
        rng = random.Random(7)
        pairs = [(ids[a], b) for a in names for b in rng.sample([n for n in names if n != a], follows_each)]
        queue = list(pairs)
        commits_before = state.meta.stats()["commits"]

        async def worker():
            while queue:
                follower, target = queue.pop()
                await state.graph.follow(follower, target)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        commits = state.meta.stats()["commits"] - commits_before
    return {
        "group_commit": group_commit,
        "follows": len(pairs),
        "follows_per_second": round(len(pairs) / elapsed, 1),
        "commits": commits,
        "commits_per_follow": round(commits / len(pairs), 3),
        "concurrency": concurrency,
    }


def run(seconds: float, *, users: int = 200, connections: int = 32, tool: str = "auto", hashes: int = 16,
        follow_users: int = 300, follows_each: int = 10, concurrency: int = 64) -> dict:
    with tempfile.TemporaryDirectory(prefix="instamini-bench-") as tmp:
        workdir = Path(tmp)
        report = {"scenario": "foundation", "cpus": os.cpu_count()}
        print("measuring profile reads against /healthz ...", flush=True)
        report["http"] = profile_vs_healthz(workdir / "http", seconds, users, connections, tool)
        print("measuring password hashes ...", flush=True)
        report["password_hashing"] = asyncio.run(password_hashes(hashes))
        print("measuring follow writes with and without group commit ...", flush=True)
        report["follow_writes"] = [
            asyncio.run(follow_writes(workdir / f"follows-{mode}", mode, follow_users, follows_each, concurrency))
            for mode in (True, False)
        ]
    return report

"""Backup under load: does `admin backup` stop or slow the writes of a serving instance?

The run: seed a demo network (`python -m instamini demo --users N --tokens-out`), serve
it with the real server pinned to core 0, and time one backup of the idle server (time,
size; it is restored into a new directory at the end, server stopped, and that is timed
too). Then offer API writes (likes and comments by random people on random posts) at a
fixed rate, open loop, from core 1: first with no backup running (the baseline), then
while backups run back to back (also on core 1). Each write's latency is measured from
the moment it was due, so a stall shows as latency instead of as writes never sent.
Writes are classed "during a backup" when they fell due inside a backup's copy window
(the manifest's `created` + `seconds`).

Cost: about a minute on the 2-core development machine with the defaults (seeding is a
few seconds, each load phase 20 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import msgspec

from instamini.bench.server import ServerProcess
from instamini.stores.backup_manifest import Manifest

TOML = """[plugins]
dirs = []
[moderation]
spam_rate_per_minute = 1000000   # simulated people comment far faster than a person; not spam
"""


def seed(data: Path, users: int, config_file: Path, tokens: Path) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "instamini", "demo", "--users", str(users), "--data-dir", str(data),
               "--config", str(config_file), "--tokens-out", str(tokens)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def public_post_ids(data: Path) -> list[str]:
    """Posts anyone may like (a private account's posts answer 404 to strangers); a post is on its author's shard."""
    found = []
    for shard in sorted((data / "meta").glob("shard-*.sqlite")):
        with sqlite3.connect(shard) as conn:
            rows = conn.execute("SELECT p.id FROM posts p JOIN users u ON u.id = p.author_id WHERE u.private = 0")
            found += [str(row[0]) for row in rows]
    return found


def backup(data: Path, target: Path, config_file: Path, cpu: int | None, keep: bool = False) -> dict:
    """One `admin backup`, pinned to `cpu`; its wall time, its copy window and the size written."""
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    started = time.perf_counter()
    command = [sys.executable, "-m", "instamini", "admin", "backup", str(target), "--data-dir", str(data),
               "--config", str(config_file)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, preexec_fn=pin)
    wall = time.perf_counter() - started
    manifest = msgspec.json.decode((target / "manifest.json").read_bytes(), type=Manifest)
    window = (manifest.created.timestamp(), manifest.created.timestamp() + manifest.seconds)
    size = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
    if not keep:
        shutil.rmtree(target)
    return {"command_seconds": round(wall, 2), "copy_seconds": manifest.seconds, "bytes": size,
            "shards": manifest.shard_count, "blobs": manifest.blobs.count, "window": window}


def restore(backup_dir: Path, data: Path, config_file: Path) -> float:
    """`admin restore` of the idle server's backup into a new directory, server stopped: its wall time."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "instamini", "admin", "restore", str(backup_dir), "--data-dir", str(data),
               "--config", str(config_file)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 2)


async def offer_writes(url: str, tokens: list[str], posts: list[str], rate: float, seconds: float, seed: int) -> list:
    """Open loop: one write due every 1/rate s; returns (due wall time, latency s, ok) per write."""
    rng = random.Random(seed)
    results, tasks = [], []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def one(due: float, wall_due: float, n: int) -> None:
            headers = {"Authorization": f"Bearer {rng.choice(tokens)}"}
            post = rng.choice(posts)
            try:
                if n % 10 < 7:
                    response = await client.post(f"/api/v1/posts/{post}/like", headers=headers)
                else:
                    response = await client.post(f"/api/v1/posts/{post}/comments", json={"text": f"nice {n}"}, headers=headers)
                ok = response.status_code in (200, 201)
            except httpx.HTTPError:
                ok = False
            results.append((wall_due, time.perf_counter() - due, ok))

        start, wall_start = time.perf_counter(), time.time()
        for n in range(int(rate * seconds)):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))  # the schedule, not a wait for the server
            tasks.append(asyncio.create_task(one(due, wall_start + n / rate, n)))
        await asyncio.gather(*tasks)
    return results


def latency(results: list) -> dict:
    ordered = sorted(seconds for _, seconds, ok in results if ok)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if ordered else None  # noqa: E731
    return {"acknowledged": len(ordered), "errors": sum(not ok for *_, ok in results),
            "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": pick(1.0)}


def measure(users: int, rate: float, seconds: float, workdir: Path) -> dict:
    config_file, data, tokens_file = workdir / "bench.toml", workdir / "data", workdir / "tokens.json"
    config_file.write_text(TOML)
    seeded = seed(data, users, config_file, tokens_file)
    tokens, posts = list(json.loads(tokens_file.read_text()).values()), public_post_ids(data)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, load_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    with ServerProcess(config_file, data, cpu=server_cpu) as server:
        idle = backup(data, workdir / "idle-backup", config_file, load_cpu, keep=True)
        if load_cpu is not None:
            os.sched_setaffinity(0, {load_cpu})  # the load generator; backups below join it
        baseline = asyncio.run(offer_writes(server.url, tokens, posts, rate, seconds, seed=1))
        backups, stop = [], threading.Event()

        def back_to_back() -> None:
            while not stop.is_set():
                backups.append(backup(data, workdir / f"backup-{len(backups)}", config_file, load_cpu))

        runner = threading.Thread(target=back_to_back)
        runner.start()
        try:
            loaded = asyncio.run(offer_writes(server.url, tokens, posts, rate, seconds, seed=2))
        finally:
            stop.set()
            runner.join()
    restored = restore(workdir / "idle-backup", workdir / "restored", config_file)
    windows = [b.pop("window") for b in backups]
    idle.pop("window")
    during = [r for r in loaded if any(start <= r[0] <= end for start, end in windows)]
    return {
        "users": users, "seed_seconds": round(seeded, 1), "posts": len(posts), "rate_per_second": rate,
        "idle_backup": idle,
        "backups_under_load": {
            "count": len(backups),
            "copy_seconds_median": statistics.median(b["copy_seconds"] for b in backups),
            "copy_seconds_max": max(b["copy_seconds"] for b in backups),
            "command_seconds_median": statistics.median(b["command_seconds"] for b in backups),
        },
        "restore_seconds": restored,
        "writes_without_backup": latency(baseline),
        "writes_during_backups": latency(during),
        "seconds_inside_backups": round(sum(end - start for start, end in windows), 2),
        "measured": datetime.now().isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200, help="API writes offered per second")
    parser.add_argument("--seconds", type=float, default=20, help="length of each load phase")
    parser.add_argument("--workdir", help="where the data and backups go (default: a temporary directory)")
    options = parser.parse_args()
    workdir = Path(options.workdir or tempfile.mkdtemp(prefix="backup-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(json.dumps(measure(options.users, options.rate, options.seconds, workdir), indent=2))
    finally:
        if not options.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

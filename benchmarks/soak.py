"""Soak: the feed bench's request mix for minutes on end; does anything keep growing?

A leak rarely shows in a 10-second benchmark: a dict that is never pruned, a WAL that is
never checkpointed, a file left open per request, a fan-out that falls a little further
behind every minute. The run: seed a network (the feed bench's `demo` seeding, with
enough spare images for every post of the run), serve it (server on core 0, load on
core 1), and offer the bench mix (60% home feeds, 30% profile grids, 10% new posts)
open loop at a rate the machine sustains, for `--minutes` (10 by default). Every
`--interval` seconds (10) it samples, from outside the server:

    rss_mb       the granian worker's resident memory (/proc/PID/status), and of it
    anon_mb      its own memory (heap, stacks), without the pages of mapped files (LMDB's cache)
    data_mb      the files it maps: the LMDB cache and the shards (`MAPPED`; blobs are read, not mapped)
    fds          its open file descriptors (/proc/PID/fd): files, shards, sockets
    wal_mb       the WAL files of the data directory, all together
    outbox       posts waiting for fan-out (the server's /metrics gauge)
    fanout_p99   fan-out lag p99 over the interval (post commit -> every follower's timeline)
    loop_p99     event-loop lag p99 over the interval
    ranker_pending  impressions waiting for a label (in memory; bounded, see ranker/impressions.py)

and prints a table (first minute against last minute, growth, max), then checks:
anonymous memory grew less than `--max-anon-growth-mb` over the second half (the first
half fills what is bounded by design: SQLite's page caches, the ranker's 100,000
impressions waiting for a label), and all resident memory less than the data files grew
plus `--max-rss-growth-mb` (the mapped pages of the LMDB cache and the shards grow with
the data a write load adds: that is the data, not a leak; a 30-minute run failed the
older check that ignored it, with anonymous memory flat for its last 10 minutes); no more
descriptors once the load has stopped than before it began (give or take a few, and
never more during the run than the load's connection cap allows); the WAL stayed under
`--max-wal-mb`; every interval's fan-out p99 stayed under `--max-fanout-lag-s` and the
outbox drained once the load stopped. A check that fails makes the exit status 1.

`tests/reliability/test_soak.py` runs the same functions for about half a minute.

Cost: `--minutes` of load on both cores, plus seeding (a few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import msgspec

from instamini.bench.feed import DEPTH, LAG, MIX, FeedMix, composes_needed, drain, seed_network
from instamini.bench.feed_network import read_network
from instamini.bench.foundation import SERVER_TOML, _cpus
from instamini.bench.openloop import OpenLoop, Operation
from instamini.bench.procstats import rss_kb, worker_pid
from instamini.bench.prometheus import histogram_buckets, histogram_quantile, metric_value, scrape
from instamini.bench.server import ServerProcess

LOOP_LAG = "instamini_event_loop_lag_seconds"
MAX_CONNECTIONS = 64  # the load generator's cap: descriptors may rise by this much while it runs


@dataclass
class Limits:
    max_anon_growth_mb: float = 32.0  # the process's own memory, over the second half of the run
    max_rss_growth_mb: float = 64.0  # all resident memory, over the second half, beyond what the data files grew
    max_wal_mb: float = 64.0  # all WAL files together (SQLite checkpoints each at about 4 MB)
    max_fanout_lag_s: float = 5.0  # p99 of every interval
    fd_slack: int = 8  # descriptors after the run minus before it


@dataclass
class Sample:
    t: float  # seconds since the load began
    rss_mb: float
    anon_mb: float  # the part of rss_mb that is the process's own memory (heap, stacks), not mapped files
    data_mb: float  # the LMDB cache's and the shards' files, whose pages are the rest of rss_mb
    fds: int
    wal_mb: float
    outbox: float | None
    ranker_pending: float | None  # impressions waiting for a label: bounded (MAX_PENDING), fills for a while
    fanout_p99_ms: float | None
    loop_p99_ms: float | None
    deliveries: int


def status_kb(pid: int, field: str) -> int:
    """A kB figure of /proc/PID/status (RssAnon: heap and stacks; RssFile: mapped files such as LMDB's)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _bytes(paths) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # checkpointed and removed between the listing and the stat
            pass
    return total


def wal_bytes(data_dir: Path) -> int:
    return _bytes(data_dir.rglob("*-wal"))


# What the server maps into memory: the LMDB cache and the shards (the blobs are read, not
# mapped; walking their tens of thousands of files every sample would be the costly part).
MAPPED = ("cache", "meta")


def data_bytes(data_dir: Path) -> int:
    return _bytes(path for name in MAPPED for path in (data_dir / name).rglob("*") if path.is_file())


def _p99_ms(name: str, before: str, after: str) -> float | None:
    seconds = histogram_quantile(0.99, histogram_buckets(before, name), histogram_buckets(after, name))
    return None if seconds is None or math.isinf(seconds) else round(seconds * 1000, 2)


class Sampler:
    """One sample of the server from outside; the lag quantiles cover the time since the last one."""

    def __init__(self, url: str, pid: int, data_dir: Path) -> None:
        self.url, self.pid, self.data_dir = url, pid, data_dir
        self.previous = scrape(url)
        self.start = time.monotonic()

    def take(self) -> Sample:
        text = scrape(self.url)
        delivered = histogram_buckets(text, LAG).get(math.inf, 0.0) - histogram_buckets(self.previous, LAG).get(math.inf, 0.0)
        sample = Sample(
            t=round(time.monotonic() - self.start, 1), rss_mb=round(rss_kb(self.pid) / 1024, 1),
            anon_mb=round(status_kb(self.pid, "RssAnon") / 1024, 1), data_mb=round(data_bytes(self.data_dir) / 2**20, 1),
            fds=open_fds(self.pid),
            wal_mb=round(wal_bytes(self.data_dir) / 2**20, 2), outbox=metric_value(text, DEPTH),
            ranker_pending=metric_value(text, "instamini_ranker_pending"),
            fanout_p99_ms=_p99_ms(LAG, self.previous, text), loop_p99_ms=_p99_ms(LOOP_LAG, self.previous, text),
            deliveries=int(delivered),
        )
        self.previous = text
        return sample


def seed(workdir: Path, users: int, rate: float, seconds: float, seed_value: int) -> tuple[Path, FeedMix]:
    """The seeded network and the mix, with a spare image for every post the run may make."""
    spare = math.ceil(composes_needed(rate, seconds) / max(1, users - 1)) + 1
    print(f"seeding {users} people with {spare} spare images each ...", file=sys.stderr, flush=True)
    data_dir, tokens, _ = seed_network(workdir, users, spare, seed_value)
    network = read_network(data_dir)
    media = [(name, media_id) for name, ids in sorted(network.spare.items()) for media_id in ids]
    random.Random(seed_value).shuffle(media)  # posters in a random order, each image posted once
    return data_dir, FeedMix(tokens, network.public, media, MIX)


def soak(workdir: Path, *, users: int, rate: float, seconds: float, interval: float, seed_value: int = 1) -> dict:
    """Seed, serve, offer the mix for `seconds` while sampling every `interval`; then drain and sample the idle server."""
    data_dir, mix = seed(workdir, users, rate, seconds, seed_value)
    config_file = workdir / "soak.toml"
    config_file.write_text(SERVER_TOML)
    server_cpu, load_cpu = _cpus()
    with ServerProcess(config_file, data_dir, cpu=server_cpu) as server:
        pid = worker_pid(server.process.pid)
        host, port = "127.0.0.1", server.port
        sampler = Sampler(server.url, pid, data_dir)
        before = asdict(sampler.take())
        result: dict = {}

        def offer() -> None:
            options = {"seed": seed_value, "progress": False, "max_connections": MAX_CONNECTIONS}
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                result["open_loop"] = pool.submit(_load_in_child, host, port, mix, rate, seconds, load_cpu, options).result()

        load = threading.Thread(target=offer)
        sampler.start = time.monotonic()
        scrape_before_load = sampler.previous
        load.start()
        samples: list[Sample] = []
        while load.is_alive():
            load.join(interval)  # the sampling period: the load runs in its own process meanwhile
            if load.is_alive():
                samples.append(sampler.take())
                print(f"  {_line(samples[-1])}", file=sys.stderr, flush=True)
        drained, _ = drain(server.url, scrape_before_load, None)
        after = asdict(sampler.take())
    return {"before": before, "samples": [asdict(s) for s in samples], "after": after, "drain_seconds": drained,
            "open_loop": _load_summary(result.get("open_loop")), "users": users, "rate": rate, "seconds": seconds,
            "interval": interval}


def _load_in_child(host: str, port: int, mix: FeedMix, rate: float, seconds: float, cpu: int | None, options: dict) -> dict:
    """The open-loop mix in its own process (as openloop.run_in_process), counting the answers by status."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    statuses: Counter[str] = Counter()

    def counted(operation: Operation) -> Operation:
        def seen(context, status: int, body: bytes) -> None:
            statuses[f"{operation.name} {status}"] += 1
            if operation.on_response is not None:
                operation.on_response(context, status, body)

        return Operation(operation.name, operation.weight, operation.build, seen)

    report = asyncio.run(OpenLoop(host, port, [counted(op) for op in mix.operations()], rate, seconds, **options).run())
    return {**report, "statuses": dict(sorted(statuses.items()))}


def _line(sample: Sample) -> str:
    return (f"t={sample.t:6.1f}s rss={sample.rss_mb:7.1f} MB anon={sample.anon_mb:7.1f} MB data={sample.data_mb:7.1f} MB "
            f"fds={sample.fds:4d} "
            f"wal={sample.wal_mb:6.2f} MB "
            f"outbox={sample.outbox} pending={sample.ranker_pending} fanout_p99={sample.fanout_p99_ms} ms "
            f"loop_p99={sample.loop_p99_ms} ms")


def _load_summary(report: dict | None) -> dict:
    if report is None:
        return {"error": "the load generator did not report"}
    keys = ("sent", "completed", "errors", "unfinished", "late_starts", "resent_after_idle_close", "peak_connections",
            "achieved_rate", "statuses")
    operations = {name: {k: op[k] for k in ("count", "errors", "p50_ms", "p99_ms", "max_ms")}
                  for name, op in report["operations"].items()}
    return {**{key: report[key] for key in keys}, "operations": operations}


# -- the table and the checks -------------------------------------------------------------

FIGURES = ("rss_mb", "anon_mb", "data_mb", "fds", "wal_mb", "outbox", "fanout_p99_ms", "loop_p99_ms", "ranker_pending")


def _values(samples: list[dict], name: str) -> list[float]:
    return [s[name] for s in samples if s[name] is not None]


def summary(report: dict) -> dict[str, dict]:
    """Per figure: the mean of the first and of the last window (a minute, or a third of a short
    run), the growth between them, and the max over the run."""
    samples, seconds = report["samples"], report["seconds"]
    window = min(60.0, seconds / 3)
    first = [s for s in samples if s["t"] <= window]
    last = [s for s in samples if s["t"] >= seconds - window]
    rows = {}
    for name in FIGURES:
        early, late, every = _values(first, name), _values(last, name), _values(samples, name)
        mean = lambda values: round(sum(values) / len(values), 2) if values else None  # noqa: E731
        a, b = mean(early), mean(late)
        rows[name] = {"first": a, "last": b, "growth": None if a is None or b is None else round(b - a, 2),
                      "max": max(every) if every else None}
    return rows


def check(report: dict, limits: Limits) -> list[str]:
    """What failed, in words; [] when every figure stayed bounded."""
    failures, samples = [], report["samples"]
    if len(samples) < 4:
        return [f"only {len(samples)} samples: run longer or sample more often"]
    half = [s for s in samples if s["t"] >= report["seconds"] / 2]
    def growth(name: str) -> float:
        return half[-1][name] - half[0][name] if half else 0.0

    if growth("anon_mb") > limits.max_anon_growth_mb:
        failures.append(f"anonymous memory grew {growth('anon_mb'):.1f} MB over the second half "
                        f"(limit {limits.max_anon_growth_mb} MB)")
    if growth("rss_mb") - growth("data_mb") > limits.max_rss_growth_mb:
        failures.append(f"resident memory grew {growth('rss_mb'):.1f} MB over the second half, the data files "
                        f"{growth('data_mb'):.1f} MB (limit {limits.max_rss_growth_mb} MB more)")
    before, after = report["before"]["fds"], report["after"]["fds"]
    if after > before + limits.fd_slack:
        failures.append(f"open descriptors: {before} before the load, {after} after it (slack {limits.fd_slack})")
    peak = max(s["fds"] for s in samples)
    if peak > before + MAX_CONNECTIONS + limits.fd_slack:
        failures.append(f"open descriptors peaked at {peak}: more than {before} + {MAX_CONNECTIONS} connections")
    wal = max(s["wal_mb"] for s in [*samples, report["after"]])
    if wal > limits.max_wal_mb:
        failures.append(f"the WAL files reached {wal} MB (limit {limits.max_wal_mb} MB)")
    lags = _values(samples, "fanout_p99_ms")
    if lags and max(lags) > limits.max_fanout_lag_s * 1000:
        failures.append(f"fan-out lag p99 reached {max(lags)} ms in an interval (limit {limits.max_fanout_lag_s} s)")
    if report["after"]["outbox"] not in (None, 0.0):
        failures.append(f"the outbox still held {report['after']['outbox']} posts after the load stopped")
    load = report["open_loop"]
    if "error" in load or load["errors"] or load["unfinished"]:
        failures.append(f"the load had errors: {load}")
    return failures


def table(report: dict) -> str:
    rows = summary(report)
    lines = ["| figure | first window | last window | growth | max |", "|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['first']} | {row['last']} | {row['growth']} | {row['max']} |")
    before, after = report["before"], report["after"]
    idle = f"| {before['fds']} | {after['fds']} | {after['fds'] - before['fds']} | |"
    lines.append("| fds idle, before / after the load " + idle)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=150, help="requests offered per second (the bench mix)")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="also write the whole report (every sample) as JSON here")
    for name, value in asdict(Limits()).items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    options = parser.parse_args()
    limits = Limits(**{name: getattr(options, name) for name in asdict(Limits())})
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        report = soak(Path(tmp), users=options.users, rate=options.rate, seconds=options.minutes * 60,
                      interval=options.interval, seed_value=options.seed)
    report["summary"], report["failures"] = summary(report), check(report, limits)
    if options.out:
        Path(options.out).write_bytes(msgspec.json.encode(report))
    print(f"python benchmarks/soak.py {' '.join(sys.argv[1:])}".rstrip())
    print(table(report))
    print(json.dumps({"open_loop": report["open_loop"], "drain_seconds": report["drain_seconds"]}, indent=2))
    for failure in report["failures"]:
        print("FAIL:", failure)
    sys.exit(1 if report["failures"] else 0)


if __name__ == "__main__":
    main()

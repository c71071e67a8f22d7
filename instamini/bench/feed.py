"""The feed benchmark: a social network's request mix, offered open loop, per feed strategy.

In the spirit of DeathStarBench's social network: a seeded network (power-law followers,
a few celebrities, posts, likes, comments) takes a fixed rate of mixed requests:
60% home-feed reads (a random person's first page, or a later page through a cursor seen
earlier for them), 30% profile-grid reads (a random person reads a random public
account's posts) and 10% new posts (a fresh spare image of the poster, a caption with a
hashtag). The mix is offered *open loop* (`openloop.py`): latencies count from each
request's intended send time, so queueing behind slow requests shows.

Each feed strategy (`[feed] strategy`: push, pull, hybrid) runs on the same seeded data
directory with a restarted server (switching is valid: timelines are a cache). Per
strategy the report has the latency of each operation, the fan-out lag (post commit to
delivered to every follower: from the server's Prometheus histogram, the increase of its
buckets over the measured phase), the outbox depth and cache hit ratio at the end, a
closed-loop (wrk) ratio of home-feed reads to /healthz, and a "celebrity" figure: how long
a post by the most-followed account takes to appear in a sample of followers' feeds, and
what posting it costs (under hybrid a celebrity is pulled, so posting writes no fan-out).
Unless `--celebrity-threshold` says otherwise, hybrid pulls the top 0.1% of accounts by
followers (the demo's share of celebrities): the threshold is the next account's count.

Against a server that is already running: `--url URL --tokens FILE` (JSON {username:
token}, as `demo --tokens-out` writes) runs the mix once, as that server is configured:
reads only, plus posts if `--media FILE` gives spare media ids ({username: [id, ...]}); no
seeding, no strategy switch, no celebrity figure.

Cost: seeding (`python -m instamini demo`) dominates short runs; then per strategy a server
start, a warm-up, the measured phase, the outbox drain and three closed-loop phases. The
server is pinned to core 0 and every load generator to core 1.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import msgspec

from .feed_network import Network, auto_celebrity_threshold, pushed_authors, read_network
from .foundation import SERVER_TOML, _cpus
from .loadgen import load
from .openloop import Operation, encode_request, headers_block, run_in_process
from .prometheus import histogram_buckets, histogram_quantile, metric_value, observed_range, scrape
from .server import ServerProcess, http_json

STRATEGIES = ("push", "pull", "hybrid")
FEED_PATH = "/api/v1/feed?limit=10&order=chronological"
MIX = {"home_feed": 60, "user_timeline": 30, "compose": 10}


def say(message: str) -> None:
    """Progress goes to stderr: stdout carries the JSON report."""
    print(message, file=sys.stderr, flush=True)


# -- fan-out lag and the outbox, from the server's /metrics ----------------------------

LAG = "instamini_feed_fanout_lag_seconds"  # post committed -> delivered to every follower
DEPTH = "instamini_feed_outbox_depth"


def fanout_lag(before: str, after: str) -> dict:
    old, new = histogram_buckets(before, LAG), histogram_buckets(after, LAG)
    quantile = lambda q: _ms(histogram_quantile(q, old, new))  # noqa: E731
    observed = new.get(math.inf, 0.0) - old.get(math.inf, 0.0)
    bounds = observed_range(old, new)  # with one delivery (the celebrity's post) the quantiles say little more
    return {
        "deliveries": int(observed), "p50_ms": quantile(0.5), "p99_ms": quantile(0.99),
        "between_ms": [_ms(bound) for bound in bounds] if bounds else None,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None or math.isinf(seconds) else round(seconds * 1000, 2)


def drain(url: str, before: str, expected: int | None, quiet: float = 1.5, timeout: float = 60.0) -> tuple[float | None, str]:
    """Wait for the fan-out of what was posted; returns (seconds waited, the last scrape).

    Done when `expected` deliveries have been observed since `before`, or when the outbox
    gauge reads 0 and no delivery came for `quiet` seconds (the gauge alone is refreshed
    about once a second: too coarse). Seconds is None if the server has no feed gauge.
    """
    started = time.monotonic()
    base, last_count, last_change = histogram_buckets(before, LAG).get(math.inf, 0.0), -1.0, started
    while True:
        text, now = scrape(url), time.monotonic()
        delivered = histogram_buckets(text, LAG).get(math.inf, 0.0) - base
        if delivered != last_count:
            last_count, last_change = delivered, now
        depth = metric_value(text, DEPTH)
        settled = depth == 0 and now - last_change >= quiet
        if depth is None or (expected is not None and delivered >= expected) or settled or now - started > timeout:
            return (None if depth is None else round(now - started, 2)), text
        time.sleep(0.05)  # the server's fan-out worker is busy; nothing of ours to step


# -- the request mix (it pickles: it crosses into the load generator's process) --------


class PageCursor(msgspec.Struct):
    next_cursor: str | None = None


decode_page = msgspec.json.Decoder(PageCursor).decode


class FeedMix:
    """Builders for the three operations; `media` is (username, media id) to post, in order."""

    def __init__(self, tokens: dict[str, str], public: list[str], media: list[tuple[str, str]], weights: dict[str, float]):
        self.names = sorted(tokens)
        self.auth = {name: headers_block({"Authorization": f"Bearer {token}"}) for name, token in tokens.items()}
        self.public = public or self.names
        self.media, self.posted = media, 0
        self.weights = weights
        self.cursors: dict[str, list[str]] = {}  # username -> next-page cursors seen for them

    def operations(self) -> list[Operation]:
        builders = {"home_feed": (self.home_feed, self.saw_page), "user_timeline": (self.user_timeline, None)}
        if self.media:
            builders["compose"] = (self.compose, None)
        return [Operation(name, self.weights[name], build, seen) for name, (build, seen) in builders.items()]

    def home_feed(self, rng: random.Random):
        """A random 10-post window: the first page, or half the time a later one seen before."""
        name = rng.choice(self.names)
        cursors = self.cursors.get(name)
        path = FEED_PATH + "&cursor=" + rng.choice(cursors) if cursors and rng.random() < 0.5 else FEED_PATH
        return encode_request("GET", path, self.auth[name]), name

    def saw_page(self, name: str, status: int, body: bytes) -> None:
        if status != 200:
            return
        cursor = decode_page(body).next_cursor
        seen = self.cursors.setdefault(name, [])
        if cursor and (quoted := urllib.parse.quote(cursor, safe="")) not in seen:
            seen.append(quoted)
            del seen[:-4]  # a few windows per person are enough

    def user_timeline(self, rng: random.Random):
        path = f"/api/v1/users/{rng.choice(self.public)}/posts?limit=10"
        return encode_request("GET", path, self.auth[rng.choice(self.names)]), None

    def compose(self, rng: random.Random):
        # Past the end of the list the last media id is posted again: the server refuses it
        # and the error shows in the report (the run was sized with a margin, so it should not).
        name, media_id = self.media[min(self.posted, len(self.media) - 1)]
        self.posted += 1
        body = msgspec.json.encode({"caption": f"open loop #bench{rng.randrange(20)}", "media_ids": [media_id]})
        return encode_request("POST", "/api/v1/posts", self.auth[name], body), None


def composes_needed(rate: float, seconds: float) -> int:
    """Compose requests one run may make: the expected number with a Poisson margin."""
    expected = rate * seconds * MIX["compose"] / sum(MIX.values())
    return math.ceil(expected + 4 * math.sqrt(expected) + 10)


# -- one strategy: warm up, the open-loop mix, the drain, closed-loop ratios ------------


@dataclass
class Target:
    """A server under test and what the bench knows about its people."""

    url: str
    tokens: dict[str, str]
    public: list[str]
    load_cpu: int | None
    pushed: set[str] | None = None  # authors whose posts fan out under the server's strategy (None: unknown)

    def deliveries_of(self, authors: list[str]) -> int | None:
        """Fan-outs the server should complete for posts by `authors`."""
        return None if self.pushed is None else sum(author in self.pushed for author in authors)

    def deliveries(self, mix: FeedMix, report: dict) -> int | None:
        # Posts sent, answered or not: an unanswered one may still have committed.
        composed = report["operations"].get("compose", {}).get("sent", 0)
        return self.deliveries_of([author for author, _ in mix.media[:composed]])

    @property
    def host_port(self) -> tuple[str, int]:
        parsed = urllib.parse.urlsplit(self.url)
        return parsed.hostname or "127.0.0.1", parsed.port or 80

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def open_loop(target: Target, mix: FeedMix, rate: float, seconds: float, **options) -> dict:
    host, port = target.host_port
    return run_in_process(host, port, mix.operations(), rate, seconds, cpu=target.load_cpu, **options)


def closed_loop(target: Target, reader: str, seconds: float, connections: int, tool: str) -> dict:
    """Home-feed reads against /healthz, closed loop (wrk), on the same server in the same run."""
    host, port = target.host_port
    affinity = os.sched_getaffinity(0)  # the Python fallback of loadgen.load pins this process

    def run(paths: list[str], headers: dict[str, str]) -> dict:
        result = load(host, port, paths, headers, seconds, connections, cpu=target.load_cpu, tool=tool)
        os.sched_setaffinity(0, affinity)
        return msgspec.to_builtins(result)

    healthz_before = run(["/healthz"], {})
    feed = run([FEED_PATH], target.auth(reader))
    healthz_after = run(["/healthz"], {})
    healthz = (healthz_before["rps"] + healthz_after["rps"]) / 2
    return {
        "reader": reader,
        "healthz_before": healthz_before,
        "home_feed": feed,
        "healthz_after": healthz_after,
        "feed_to_healthz_ratio": round(feed["rps"] / healthz, 3) if healthz else None,
    }


def measure(target: Target, mix: FeedMix, options: dict) -> dict:
    rate, seed = options["rate"], options["seed"]
    generator = {"arrivals": options["arrivals"], "max_connections": options["max_connections"]}
    if options["warmup"] > 0:
        say(f"  warm-up: {options['warmup']} s of reads at {rate}/s")
        reads = FeedMix(target.tokens, target.public, [], MIX)
        open_loop(target, reads, rate, options["warmup"], seed=seed + 100, progress=False, **generator)
    before = scrape(target.url)
    say(f"  measuring: {options['seconds']} s of the mix at {rate}/s, open loop")
    report = {"open_loop": open_loop(target, mix, rate, options["seconds"], seed=seed, **generator)}
    report["outbox_depth_at_end"] = metric_value(scrape(target.url), DEPTH)
    report["outbox_drain_seconds"], after = drain(target.url, before, target.deliveries(mix, report["open_loop"]))
    report["fanout_lag"] = fanout_lag(before, after)
    report["cache_hit_ratio"] = metric_value(after, "instamini_cache_hit_ratio")
    say(f"  closed loop (wrk): /healthz, home feed, /healthz, {options['closed_seconds']} s each")
    reader = random.Random(seed).choice(sorted(target.tokens))
    report["closed_loop"] = closed_loop(target, reader, options["closed_seconds"], options["connections"], options["tool"])
    return report


# -- the celebrity: one post by the most-followed account -------------------------------


def celebrity_posts(target: Target, celebrity: str, followers: int, media_ids: list[str], sample: list[str]) -> dict:
    """Post as the celebrity; time each post until every sampled follower's feed shows it."""
    composes, visible, lags = [], [], []
    for media_id in media_ids:
        before = scrape(target.url)
        started = time.perf_counter()
        body = {"caption": "a celebrity post #bench", "media_ids": [media_id]}
        status, post = http_json("POST", target.url + "/api/v1/posts", body, target.auth(celebrity))
        composes.append(round((time.perf_counter() - started) * 1000, 2))
        if status != 201:
            raise RuntimeError(f"celebrity post: {status} {post}")
        visible.append(_until_visible(target, sample, post["id"], started))
        lags.append(fanout_lag(before, drain(target.url, before, target.deliveries_of([celebrity]))[1]))
    return {
        "username": celebrity,
        "followers": followers,
        "followers_sampled": len(sample),
        "compose_ms": composes,
        "compose_ms_median": sorted(composes)[len(composes) // 2] if composes else None,
        "visible_in_sampled_feeds_ms": visible,
        "fanout_lag": lags,
    }


def _until_visible(target: Target, sample: list[str], post_id: str, started: float, timeout: float = 30.0) -> dict:
    """Poll the sampled followers' first pages until the post is in each (ms since posting)."""
    seen: dict[str, float] = {}
    while len(seen) < len(sample) and time.perf_counter() - started < timeout:
        for name in sample:
            if name in seen:
                continue
            status, page = http_json("GET", target.url + FEED_PATH, headers=target.auth(name))
            if status == 200 and any(item["id"] == post_id for item in page["items"]):
                seen[name] = (time.perf_counter() - started) * 1000
    times = sorted(seen.values())
    return {
        "first": round(times[0], 1) if times else None,
        "last": round(times[-1], 1) if times else None,
        "not_seen_within_30_s": len(sample) - len(times),
    }


# -- the whole run ---------------------------------------------------------------------


def seed_network(workdir: Path, users: int, spare: int, seed: int) -> tuple[Path, dict[str, str], float]:
    config_file, data_dir, tokens_file = workdir / "seed.toml", workdir / "data", workdir / "tokens.json"
    config_file.write_text(SERVER_TOML)
    command = [
        sys.executable, "-m", "instamini", "demo", "--users", str(users), "--data-dir", str(data_dir),
        "--config", str(config_file), "--seed", str(seed), "--spare-media", str(spare),
        "--tokens-out", str(tokens_file),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=2)  # the demo's progress joins ours on stderr
    return data_dir, msgspec.json.decode(tokens_file.read_bytes()), round(time.perf_counter() - started, 1)


def server_toml(strategy: str, threshold: int) -> str:
    return SERVER_TOML + f'[feed]\nstrategy = "{strategy}"\ncelebrity_threshold = {threshold}\n'


def spare_per_user(options: dict) -> int:
    """Spare images each person needs: the mix's posts of every strategy, spread over everyone,
    and the celebrity's own posts (one spare list per person, so everyone gets that many)."""
    runs = len(options["strategies"])
    mix_posts = composes_needed(options["rate"], options["seconds"]) * runs
    return max(math.ceil(mix_posts / max(1, options["users"] - 1)) + 1, options["celebrity_posts"] * runs)


@dataclass
class Seeded:
    """The seeded network and how each strategy's run shares its spare media."""

    data_dir: Path
    tokens: dict[str, str]
    network: Network
    threshold: int
    celebrity: tuple[str, int]  # username, followers
    sample: list[str]  # followers of the celebrity whose feeds are polled
    pool: list[tuple[str, str]]  # (poster, media id) for the mix, shuffled

    def media_for_run(self, index: int, per_run: int) -> list[tuple[str, str]]:
        return self.pool[index * per_run:(index + 1) * per_run]

    def celebrity_media(self, index: int, per_run: int) -> list[str]:
        return self.network.spare.get(self.celebrity[0], [])[index * per_run:(index + 1) * per_run]


def seed_and_read(workdir: Path, options: dict) -> tuple[Seeded, dict]:
    users, spare = options["users"], spare_per_user(options)
    say(f"seeding {users} people with {spare} spare images each (python -m instamini demo) ...")
    data_dir, tokens, seed_seconds = seed_network(workdir, users, spare, options["seed"])
    network = read_network(data_dir)
    celebrity = network.most_followed()[0]
    threshold = options["celebrity_threshold"] or auto_celebrity_threshold(network, users)
    rng = random.Random(options["seed"])
    pool = [(name, media_id) for name, ids in sorted(network.spare.items()) if name != celebrity[0] for media_id in ids]
    rng.shuffle(pool)
    reachable = sorted(set(network.followers_of(celebrity[0])) & set(tokens))
    sample = rng.sample(reachable, min(5, len(reachable)))
    summary = {
        "users": len(network.names), "seed_seconds": seed_seconds, "spare_media_per_user": spare,
        "most_followed": network.most_followed()[:5], "celebrity_threshold": threshold,
        "celebrities": sum(count > threshold for count in network.followers.values()),
    }
    return Seeded(data_dir, tokens, network, threshold, celebrity, sample, pool), summary


def run_strategy(seeded: Seeded, index: int, strategy: str, workdir: Path, options: dict) -> dict:
    """A fresh server on the seeded data with this strategy: the mix, then the celebrity."""
    server_cpu, load_cpu = _cpus()
    config_file = workdir / f"{strategy}.toml"
    config_file.write_text(server_toml(strategy, seeded.threshold))
    say(f"[{strategy}] starting the server (core {server_cpu}) on the seeded data ...")
    network, (celebrity, followers) = seeded.network, seeded.celebrity
    with ServerProcess(config_file, seeded.data_dir, cpu=server_cpu) as server:
        pushed = pushed_authors(network, strategy, seeded.threshold)
        target = Target(server.url, seeded.tokens, network.public, load_cpu, pushed)
        media = seeded.media_for_run(index, composes_needed(options["rate"], options["seconds"]))
        result = measure(target, FeedMix(seeded.tokens, network.public, media, MIX), options)
        posts = seeded.celebrity_media(index, options["celebrity_posts"])
        say(f"  celebrity: {len(posts)} post(s) by {celebrity} ({followers} followers)")
        result["celebrity"] = celebrity_posts(target, celebrity, followers, posts, seeded.sample)
    return {"strategy": strategy, **result}


def run_local(options: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="instamini-bench-") as tmp:
        workdir = Path(tmp)
        seeded, summary = seed_and_read(workdir, options)
        strategies = {
            strategy: run_strategy(seeded, index, strategy, workdir, options)
            for index, strategy in enumerate(options["strategies"])
        }
    return {"network": summary, "strategies": strategies}


def public_accounts(url: str, names: list[str]) -> list[str]:
    """The accounts whose profile grid anyone may read (a private one answers 404 to strangers)."""
    return [name for name in names if http_json("GET", f"{url}/api/v1/users/{name}")[1].get("private") is False]


def run_remote(options: dict) -> dict:
    """Against a running server: reads, plus posts only if spare media ids were given."""
    if not options["tokens"]:
        raise SystemExit("bench feed --url needs --tokens FILE ({'username': 'token'} JSON)")
    tokens = msgspec.json.decode(Path(options["tokens"]).read_bytes(), type=dict[str, str])
    spare = msgspec.json.decode(Path(options["media"]).read_bytes(), type=dict[str, list[str]]) if options["media"] else {}
    media = [(name, media_id) for name, ids in sorted(spare.items()) if name in tokens for media_id in ids]
    random.Random(options["seed"]).shuffle(media)
    url = options["url"].rstrip("/")
    say(f"asking {url} which of the {len(tokens)} accounts are public ...")
    target = Target(url, tokens, public_accounts(url, sorted(tokens)), None)
    say(f"measuring {target.url} as configured ({'with' if media else 'without'} posts) ...")
    return {"strategies": {"as_configured": measure(target, FeedMix(tokens, target.public, media, MIX), options)}}


def command_line(options: dict) -> str:
    words = ["python -m instamini bench feed", f"--seconds {options['seconds']:g}", f"--rate {options['rate']:g}"]
    if options["url"]:
        words += [f"--url {options['url']}", f"--tokens {options['tokens']}"]
        words += [f"--media {options['media']}"] if options["media"] else []
    else:
        words += [f"--users {options['users']}", f"--strategy {','.join(options['strategies'])}"]
    words += [f"--seed {options['seed']}", f"--arrivals {options['arrivals']}", f"--warmup {options['warmup']:g}"]
    words.append(f"--closed-seconds {options['closed_seconds']:g}")
    if options["celebrity_threshold"]:
        words.append(f"--celebrity-threshold {options['celebrity_threshold']}")
    return " ".join(words)


def run(
    seconds: float, *, users: int = 2000, rate: float = 1000.0, strategy: str = ",".join(STRATEGIES),
    url: str | None = None, tokens: str | None = None, media: str | None = None, seed: int = 1,
    arrivals: str = "poisson", warmup: float = 2.0, closed_seconds: float | None = None,
    celebrity_threshold: int | None = None, celebrity_posts: int = 3, connections: int = 32,
    max_connections: int = 256, tool: str = "auto",
) -> dict:
    strategies = [name.strip() for name in strategy.split(",") if name.strip()]
    if unknown := set(strategies) - set(STRATEGIES):
        raise SystemExit(f"bench feed --strategy: unknown {sorted(unknown)}; choose from {', '.join(STRATEGIES)}")
    options = {
        "seconds": seconds, "users": users, "rate": rate, "strategies": strategies, "url": url, "tokens": tokens,
        "media": media, "seed": seed, "arrivals": arrivals, "warmup": warmup,
        "closed_seconds": closed_seconds if closed_seconds is not None else max(1.0, min(seconds, 5.0)),
        "celebrity_threshold": celebrity_threshold, "celebrity_posts": celebrity_posts,
        "connections": connections, "max_connections": max_connections, "tool": tool,
    }
    report = {"scenario": "feed", "command": command_line(options), "parameters": options, "cpus": os.cpu_count()}
    report.update(run_remote(options) if url else run_local(options))
    return report

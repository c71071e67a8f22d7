"""Login brute force from many loopback addresses: are the limits kept, and does the loop keep up?

The run: seed a network (the feed bench's `demo` seeding), serve it with the real server at
its default settings (argon2id at the OWASP parameters, 30 logins per address per minute,
10 failed logins per account per 5 minutes, 2 hashes at once and 32 waiting), register a
few target accounts, and let their owner log in once from the owner's usual address. Then,
while a legitimate person reads their home feed at a fixed rate (open loop, in its own
process; first alone for `--baseline-seconds`, for comparison), an attacker offers wrong
passwords open loop from `--addresses` source addresses (127.0.0.2 and up: loopback is
all of 127.0.0.0/8, and a socket can bind any of them): half against the targets, half
sprayed over made-up usernames (each of those costs a real argon2 check, so the hashing
queue fills up). At the end the owner logs in again, from their usual address and from a
new one.

It prints the attempts by answer and how fast each kind came back; how many guesses got
through each address's limit and each account's limit, against the configured limits; how
many were turned away by the full hashing queue (503); the event-loop lag over the attack from the server's /metrics
(p50, p99, max); and the reader's latency (p50, p99, max, errors).

`tests/reliability/test_login_bruteforce.py` runs the same functions, bounded, with low limits.

Cost: seeding a few seconds; then `--seconds` of attack (30 by default) at `--rate` guesses
a second; the server uses both cores while it hashes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from instamini.bench.feed import FEED_PATH, seed_network
from instamini.bench.openloop import Fixed, Operation, encode_request, headers_block, run_in_process
from instamini.bench.prometheus import histogram_buckets, histogram_quantile, metric_value, observed_range, scrape
from instamini.bench.server import ServerProcess
from instamini.config import Config

# How each refusal says what refused it (the `detail` of the JSON error).
ADDRESS_LIMITED = "too many requests"  # Litestar's per-address rate limit
ACCOUNT_LOCKED = "too many failed logins"  # the account's failure window (accounts/ratelimit.py)
HASHES_FULL = "too many password checks"  # the hashing queue (accounts/passwords.py)
LAG = "instamini_event_loop_lag_seconds"
LAG_MAX = "instamini_event_loop_lag_max_seconds"
PASSWORD = "the owners' real password"
OWNER_ADDRESS, NEW_ADDRESS, READER_ADDRESS = "127.0.0.250", "127.0.0.251", "127.0.0.1"


def attacker_addresses(count: int, first: int = 2) -> list[str]:
    """127.0.0.2, 127.0.0.3 ...: below the owner's and the new address."""
    if first + count > 250:
        raise SystemExit(f"--addresses: at most {250 - first} (127.0.0.{first} to 127.0.0.249)")
    return [f"127.0.0.{first + i}" for i in range(count)]


@dataclass(frozen=True)
class Guess:
    address: str
    username: str
    password: str


@dataclass(frozen=True)
class Outcome:
    guess: Guess
    status: int  # 0: no answer (connection failed or timed out)
    detail: str
    retry_after: str | None
    seconds: float  # from when it was due to its answer


def plan(addresses: list[str], total: int, targets: list[str], spray_share: float, seed: int) -> list[Guess]:
    """`total` wrong guesses, the addresses taking turns; a `spray_share` of them against a
    fresh made-up username each, the rest against the targets in turn."""
    rng, guesses = random.Random(seed), []
    for n in range(total):
        address = addresses[n % len(addresses)]
        username = f"nobody{seed}x{n}" if rng.random() < spray_share else targets[n % len(targets)]
        guesses.append(Guess(address, username, f"guess {n}"))
    return guesses


async def attack(url: str, guesses: list[Guess], *, rate: float | None, concurrency: int) -> list[Outcome]:
    """Offer the guesses, `rate` a second (None: as fast as `concurrency` allows), each from
    its own source address; at most `concurrency` unanswered at once."""
    clients = {
        address: httpx.AsyncClient(base_url=url, timeout=30, transport=httpx.AsyncHTTPTransport(local_address=address))
        for address in sorted({guess.address for guess in guesses})
    }
    slots, outcomes = asyncio.Semaphore(concurrency), []

    async def one(guess: Guess, due: float) -> None:
        async with slots:
            try:
                response = await clients[guess.address].post(
                    "/api/v1/sessions", json={"username": guess.username, "password": guess.password}
                )
                status, retry_after = response.status_code, response.headers.get("retry-after")
                detail = response.json().get("detail", "") if status >= 400 else ""
            except (httpx.HTTPError, ValueError) as error:
                status, detail, retry_after = 0, repr(error), None
        outcomes.append(Outcome(guess, status, detail, retry_after, time.perf_counter() - due))

    try:
        tasks, start = [], time.perf_counter()
        for n, guess in enumerate(guesses):
            due = start + (n / rate if rate else 0.0)
            if rate:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))  # the schedule, not a wait for the server
            tasks.append(asyncio.create_task(one(guess, due)))
        await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients.values()))
    return outcomes


def refused_by(outcome: Outcome) -> str | None:
    if outcome.status == 429 and ADDRESS_LIMITED in outcome.detail.lower():
        return "address"
    if outcome.status == 429 and ACCOUNT_LOCKED in outcome.detail.lower():
        return "account"
    if outcome.status == 503 and HASHES_FULL in outcome.detail.lower():
        return "hashing queue"
    return None


def tally(outcomes: list[Outcome], targets: list[str]) -> dict:
    """What the attack got: answers, and guesses through each limit, per address and per target."""
    through_address: Counter[str] = Counter()  # past the per-address limit (whatever came next)
    checked: Counter[str] = Counter()  # password really checked and wrong (401), per target account
    for outcome in outcomes:
        if refused_by(outcome) != "address" and outcome.status:
            through_address[outcome.guess.address] += 1
        if outcome.status == 401 and outcome.guess.username in targets:
            checked[outcome.guess.username] += 1
    refused = Counter(refused_by(outcome) or "not refused" for outcome in outcomes)
    latency: dict[str, list[float]] = {}
    for outcome in outcomes:
        latency.setdefault(refused_by(outcome) or f"answered {outcome.status}", []).append(outcome.seconds)
    return {
        "attempts": len(outcomes),
        "answers": dict(sorted(Counter(str(outcome.status) for outcome in outcomes).items())),
        "refused_by": dict(refused),
        "through_address_limit": {"max": max(through_address.values(), default=0),
                                  "min": min(through_address.values(), default=0), "addresses": len(through_address)},
        "checked_per_target": {target: checked[target] for target in targets},
        "through_per_address": dict(through_address),
        "latency_ms_p50_p99": {kind: _quantiles_ms(seconds) for kind, seconds in sorted(latency.items())},
        "503_without_retry_after": sum(o.status == 503 and not o.retry_after for o in outcomes),
        "unexpected": [f"{o.status} {o.detail}" for o in outcomes if o.status not in (401, 429, 503)][:5],
    }


def _quantiles_ms(seconds: list[float]) -> list[float]:
    ordered = sorted(seconds)
    return [round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) for q in (0.5, 0.99)]


def loop_lag(before: str, after: str) -> dict:
    """The event loop's lag between two scrapes: quantiles of the histogram's increase; the max
    is exact if it was set in between (the gauge grew), else at most the top bucket reached."""
    old, new = histogram_buckets(before, LAG), histogram_buckets(after, LAG)
    samples = new.get(math.inf, 0.0) - old.get(math.inf, 0.0)
    quantile = lambda q: _ms(histogram_quantile(q, old, new))  # noqa: E731
    max_before, max_after = metric_value(before, LAG_MAX), metric_value(after, LAG_MAX)
    if max_after is not None and max_before is not None and max_after > max_before:
        biggest = {"max_ms": _ms(max_after)}
    else:  # the largest sample in between was no record: its bucket bounds it
        bounds = observed_range(old, new)
        biggest = {"max_ms_at_most": _ms(bounds[1]) if bounds else None}
    return {"samples": int(samples), "p50_ms": quantile(0.5), "p99_ms": quantile(0.99), **biggest}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None or math.isinf(seconds) else round(seconds * 1000, 2)


def feed_reads(url: str, token: str, rate: float, seconds: float) -> dict:
    """The legitimate person's home-feed reads, open loop in a process of their own (from 127.0.0.1)."""
    host, port = url.removeprefix("http://").split(":")
    request = encode_request("GET", FEED_PATH, headers_block({"Authorization": f"Bearer {token}"}))
    report = run_in_process(host, int(port), [Operation("home_feed", 1, Fixed(request))], rate, seconds, progress=False,
                            max_connections=4, initial_connections=1)
    reads = report["operations"]["home_feed"]
    return {key: reads[key] for key in ("sent", "count", "errors", "p50_ms", "p99_ms", "max_ms")}


def register(client: httpx.Client, username: str) -> str:
    response = client.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return response.json()["token"]


def login_from(url: str, address: str, username: str, password: str = PASSWORD) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=url, timeout=30, transport=transport) as client:
        return client.post("/api/v1/sessions", json={"username": username, "password": password})


def owner_after(url: str, owner: str) -> dict:
    """The owner, once the attack is over: from their usual address, and from a new one."""
    usual, new = login_from(url, OWNER_ADDRESS, owner), login_from(url, NEW_ADDRESS, owner)
    return {"from_usual_address": usual.status_code, "from_new_address": new.status_code,
            "new_address_retry_after_s": new.headers.get("retry-after"),
            "new_address_detail": new.json().get("detail") if new.status_code >= 400 else None}


async def attack_while_reading(url: str, reader_token: str, phases: list[dict], read_rate: float) -> tuple[list, dict]:
    """Run the attack phases one after another while the reader reads for as long; its process
    takes about a second to start, hence the margin."""
    seconds = sum(phase["seconds"] for phase in phases) + 2
    reads = asyncio.create_task(asyncio.to_thread(feed_reads, url, reader_token, read_rate, seconds))
    outcomes = []
    for phase in phases:
        outcomes.append(await attack(url, phase["guesses"], rate=phase["rate"], concurrency=phase["concurrency"]))
    return outcomes, await reads


def limits_of(config: Config) -> dict:
    accounts = config.accounts
    return {"logins_per_address_per_minute": accounts.logins_per_address_per_minute,
            "login_attempts_per_account": accounts.login_attempts_per_account,
            "login_window_seconds": accounts.login_window_seconds,
            "max_concurrent_hashes": accounts.max_concurrent_hashes, "max_waiting_hashes": accounts.max_waiting_hashes,
            "argon2": f"argon2id m={accounts.argon2_memory_kib} KiB, t={accounts.argon2_time_cost}, "
                      f"p={accounts.argon2_parallelism}"}


def measure(options: argparse.Namespace, workdir: Path) -> dict:
    print(f"seeding {options.users} people (python -m instamini demo) ...", file=sys.stderr)
    data_dir, tokens, seed_seconds = seed_network(workdir, options.users, 0, options.seed)
    reader_token = tokens[sorted(tokens)[0]]
    targets = [f"target{i}" for i in range(options.accounts)]
    addresses = attacker_addresses(options.addresses)
    guesses = plan(addresses, int(options.rate * options.seconds), targets, options.spray, options.seed)
    with ServerProcess(None, data_dir) as server:  # no config file: every default
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for target in targets:
                register(client, target)
        for target in targets:  # each owner has logged in from their usual address before
            assert login_from(server.url, OWNER_ADDRESS, target).status_code == 201
        print(f"baseline: {options.baseline_seconds:g} s of the reader alone ...", file=sys.stderr)
        quiet = scrape(server.url)
        baseline = feed_reads(server.url, reader_token, options.read_rate, options.baseline_seconds)
        before = scrape(server.url)
        print(f"attack: {len(guesses)} guesses at {options.rate:g}/s from {len(addresses)} addresses ...", file=sys.stderr)
        phase = {"guesses": guesses, "rate": options.rate, "concurrency": options.concurrency, "seconds": options.seconds}
        (outcomes,), reads = asyncio.run(attack_while_reading(server.url, reader_token, [phase], options.read_rate))
        after = scrape(server.url)
        owner = owner_after(server.url, targets[0])
    result = tally(outcomes, targets)
    result.pop("through_per_address")
    return {
        "command": "python benchmarks/login_bruteforce.py " + " ".join(sys.argv[1:]),
        "limits": limits_of(Config()), "users_seeded": options.users, "seed_seconds": seed_seconds,
        "attack": {"addresses": len(addresses), "rate": options.rate, "seconds": options.seconds,
                   "spray_share": options.spray, "targets": len(targets), **result},
        "event_loop_lag": loop_lag(before, after), "reader_home_feed": reads, "owner_after_attack": owner,
        "without_attack": {"event_loop_lag": loop_lag(quiet, before), "reader_home_feed": baseline},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=300, help="people seeded by the demo")
    parser.add_argument("--addresses", type=int, default=200, help="attacker source addresses (127.0.0.2 and up)")
    parser.add_argument("--accounts", type=int, default=3, help="target accounts")
    parser.add_argument("--rate", type=float, default=300, help="guesses offered per second")
    parser.add_argument("--seconds", type=float, default=30, help="length of the attack")
    parser.add_argument("--spray", type=float, default=0.5, help="share of guesses against made-up usernames")
    parser.add_argument("--concurrency", type=int, default=128, help="most unanswered guesses at once")
    parser.add_argument("--read-rate", type=float, default=20, help="the reader's home-feed reads per second")
    parser.add_argument("--baseline-seconds", type=float, default=10, help="the reader alone, before the attack")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bruteforce-bench-") as tmp:
        print(json.dumps(measure(options, Path(tmp)), indent=2))


if __name__ == "__main__":
    main()

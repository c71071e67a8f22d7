"""The realtime benchmark: sockets held open, message delivery at a fixed rate, like -> notification.

On a freshly seeded network (`python -m instamini demo --tokens-out`), a server pinned to
core 0 is measured by one client process pinned to core 1 (wsclient.py), in three phases:

1. Sockets held open: `--sockets` sockets spread over the seeded people (several devices
   each, all with the person's one session token), opened with a bounded number of
   concurrent handshakes. Reported: time to open them all, handshake p50/p99, failures,
   the granian worker's resident memory (VmRSS) before and after and per socket, the
   server CPU spent holding them for `--hold` seconds while the client answers the
   heartbeat's pings (the server's heartbeat is set to a few seconds so that it fires),
   and /healthz latency with every socket open against the same figure before.
   They are closed, and that server stopped: phases 2 and 3 run on a second fresh server
   on the same data, with the default heartbeat, so their figures are about messages and
   notifications alone (not pings to thousands of idle sockets).
2. Messages: the people are paired; the first of each pair starts a direct thread
   (HTTP), both connect one socket, and `message` frames are offered OPEN LOOP at
   `--rate` for `--seconds` (Poisson or uniform gaps, seeded: openloop.arrival_offsets),
   each from a random side of a random pair. The text carries a sequence number; a
   message's delivery latency runs from its intended send time to the recipient's socket
   receiving the `message` frame, its ack latency to the sender's `ack`. Never delivered
   by the end of the drain: lost, counted with its wait so far (a lower bound), as the
   open-loop generator counts an unanswered request. The server's frame rate limit is
   raised far above what one socket sends (about rate / people frames a second). After
   the drain the sockets stay open until the server is idle again: the notifications the
   messages cause ("x sent you a message", one more frame each) are counted, and the
   seconds the server needed to catch up are reported as its backlog.
3. Like -> notification: `--likes` likes at a modest fixed rate, each by someone who had
   not liked that post, each of a *fresh* post of a public account (a like of a post
   already in a group would regroup it; a fresh one starts a group, so a frame is pushed
   either way, but fresh posts keep the measured path the same for every like): latency
   from the HTTP request's intended send time to the `notification` frame on the author's
   socket.

Server CPU (user and system, from /proc of the granian worker) is reported per phase, and
the shard commits and write jobs per message (from /metrics): together they say whether
the server's one core is the limit. The client is one Python process: its CPU per message
and its own full garbage collections during the measured phase are reported too, to show
that it is not.

Cost: the seeding; then about `sockets / 600` seconds of handshakes, `--hold`, the message
phase with its drain, and `likes / 50` seconds of likes, plus two server starts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import random
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RealtimeConfig
from ..ids import shard_of
from .feed import say, seed_network
from .feed_network import _query, read_network
from .foundation import SERVER_TOML, _cpus
from .procstats import ServerUsage, open_files_limit, raise_open_files_limit, rss_kb, settle, worker_pid
from .realtime_messages import deliver_messages
from .realtime_plan import HEALTHZ_SAMPLES, Plan, healthz_latency, latency_summary
from .server import ServerProcess
from .wsclient import Http, Peer, ServerFrame, close_all, open_many


# -- phase 1: sockets held open ----------------------------------------------------------


async def hold_sockets(plan: Plan) -> dict:
    http, pid = Http(plan.host, plan.port), plan.worker_pid
    idle_healthz, rss_before = await healthz_latency(http, HEALTHZ_SAMPLES), rss_kb(pid)
    logins = [(user, plan.tokens[user]) for user in plan.devices]
    say(f"[sockets] opening {len(logins)} sockets for {len(set(plan.devices))} people, "
        f"at most {plan.handshakes} handshakes at once ...")
    usage = ServerUsage(pid)
    opened = await open_many(plan.url, logins, None, concurrency=plan.handshakes, progress="sockets")
    opening_cpu, rss_open = usage.share(), rss_kb(pid)
    say(f"[sockets] {len(opened.peers)} open in {opened.seconds:.1f} s; holding them {plan.hold:g} s ...")
    usage = ServerUsage(pid)
    await asyncio.sleep(plan.hold)
    held_cpu, rss_held = usage.share(), rss_kb(pid)
    open_healthz = await healthz_latency(http, HEALTHZ_SAMPLES)
    still_open = sum(peer.closed_code is None for peer in opened.peers)
    closing = time.monotonic()
    await close_all(opened.peers)
    closed_seconds = time.monotonic() - closing
    http.close()
    count = max(1, len(opened.peers))
    return {
        "requested": len(logins),
        "opened": len(opened.peers),
        "failed": len(opened.failures),
        "failures_sample": sorted(set(opened.failures))[:5],
        "people": len(set(plan.devices)),
        "open_seconds": round(opened.seconds, 2),
        "handshakes_per_second": round(len(opened.peers) / opened.seconds, 1) if opened.seconds else None,
        "handshake": latency_summary(opened.handshakes),
        "max_concurrent_handshakes": plan.handshakes,
        "server_cpu_share_while_opening": opening_cpu,
        "held_seconds": plan.hold,
        "still_open_after_hold": still_open,
        "server_pings_answered": sum(peer.pings for peer in opened.peers),
        "sockets_pinged": sum(peer.pings > 0 for peer in opened.peers),
        "server_cpu_share_while_held": held_cpu,
        "server_rss_kb": {"before": rss_before, "all_open": rss_open, "after_hold": rss_held},
        "server_kb_per_socket": round((rss_held - rss_before) / count, 2),
        "healthz_before": idle_healthz,
        "healthz_all_open": open_healthz,
        "close_seconds": round(closed_seconds, 2),
        "server_busy_after_closing_seconds": await settle(pid),
    }


# -- phase 3: like -> notification frame ---------------------------------------------------


@dataclass
class LikeWatch:
    """Likes sent, waiting for the author's `notification` frame about that post."""

    authors: dict[str, str]  # post id -> author
    origins: dict[str, float] = field(default_factory=dict)  # post id -> intended send time
    latencies: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def on_frame(self, peer: Peer, frame: ServerFrame, now: float) -> None:
        notice = frame.notification
        if frame.type != "notification" or notice is None or notice.kind != "like":
            return
        if notice.post_id in self.origins and self.authors[notice.post_id] == peer.user:
            self.latencies.append(now - self.origins.pop(notice.post_id))
            if len(self.latencies) == self.expected:
                self.done.set()


async def send_likes(plan: Plan, watch: LikeWatch) -> tuple[list[float], int]:
    """The likes one after another at `like_rate`; (HTTP latencies, non-200 answers)."""
    loop, http = asyncio.get_running_loop(), Http(plan.host, plan.port)
    latencies, errors, start = [], 0, loop.time()
    for index, (liker, _, post_id) in enumerate(plan.likes):
        due = start + index / plan.like_rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        origin = watch.origins[post_id] = min(due, loop.time())  # before sending: the frame may come first
        status, _ = await http.request("POST", f"/api/v1/posts/{post_id}/like", plan.tokens[liker])
        latencies.append(loop.time() - origin)
        errors += status != 200
    http.close()
    return latencies, errors


async def like_notifications(plan: Plan) -> dict:
    authors = {post_id: author for _, author, post_id in plan.likes}
    watch = LikeWatch(authors, expected=len(plan.likes))
    people = sorted(set(authors.values()))
    logins = [(person, plan.tokens[person]) for person in people]
    opened = await open_many(plan.url, logins, watch.on_frame, concurrency=plan.handshakes)
    say(f"[likes] {len(plan.likes)} likes of fresh posts by {len(people)} authors, {plan.like_rate:g}/s ...")
    http_latencies, errors = await send_likes(plan, watch)
    try:
        await asyncio.wait_for(watch.done.wait(), plan.drain)
    except asyncio.TimeoutError:
        pass
    await close_all(opened.peers)
    return {
        "likes": len(plan.likes),
        "authors": len(people),
        "rate": plan.like_rate,
        "http_like": {**latency_summary(http_latencies), "errors": errors},
        "notification": latency_summary(watch.latencies),
        "missing": len(watch.origins),
    }


# -- the client process ---------------------------------------------------------------------


PHASES = {"sockets": hold_sockets, "messages": deliver_messages, "likes": like_notifications}


async def client(plan: Plan, phases: tuple[str, ...]) -> dict:
    report = {phase: await PHASES[phase](plan) for phase in phases}
    report["client_peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report["client_open_files_limit"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return report


def _child(plan: Plan, phases: tuple[str, ...], cpu: int | None) -> dict:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return asyncio.run(client(plan, phases))


def run_client(plan: Plan, phases: tuple[str, ...], cpu: int | None) -> dict:
    """Phases in a fresh (spawned) process pinned to `cpu`: never on the server's core."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_child, plan, phases, cpu).result()


# -- who does what, from the seeded data --------------------------------------------------


@dataclass
class Cast:
    devices: list[str]
    pairs: list[tuple[str, str]]
    likes: list[tuple[str, str, str]]
    pairs_across_shards: int


def pick_likes(data_dir: Path, tokens: dict[str, str], count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(liker, author, post id): fresh posts of public accounts, each liked by someone new to it."""
    network = read_network(data_dir)
    ids = {name: user_id for user_id, name in network.names.items() if name in tokens}
    public = {ids[name] for name in network.public if name in ids}
    every_post = _query(network.shard_files, "SELECT id, author_id FROM posts ORDER BY id")
    posts = [(post, author) for post, author in every_post if author in public]
    liked = set(_query(network.shard_files, "SELECT post_id, user_id FROM likes"))
    rng.shuffle(posts)
    likers, picks = sorted(ids.values()), []
    for post, author in posts:
        if len(picks) == count:
            break
        liker = rng.choice(likers)
        if liker != author and (post, liker) not in liked:
            picks.append((network.names[liker], network.names[author], str(post)))
    if len(picks) < count:
        raise RuntimeError(f"only {len(picks)} fresh posts to like; seed more people or ask for fewer likes")
    return picks


def cast(data_dir: Path, tokens: dict[str, str], sockets: int, likes: int, seed: int) -> Cast:
    rng = random.Random(seed)
    people = sorted(tokens)
    rng.shuffle(people)
    devices = [people[index % len(people)] for index in range(sockets)]
    pairs = list(zip(people[0::2], people[1::2]))
    ids = {name: user_id for user_id, name in read_network(data_dir).names.items()}
    across = sum(shard_of(ids[a]) != shard_of(ids[b]) for a, b in pairs)
    return Cast(devices, pairs, pick_likes(data_dir, tokens, likes, rng), across)


# -- the whole run --------------------------------------------------------------------------


def server_toml(heartbeat: int) -> str:
    """The frame rate limit far above what the bench sends per socket; a heartbeat that fires."""
    return SERVER_TOML + f"[realtime]\nframes_per_second = 1000\nframe_burst = 2000\nheartbeat_seconds = {heartbeat}\n"


def heartbeat_for(hold: float) -> int:
    """Seconds between the server's pings: at least two fit in the hold, so every socket is pinged."""
    return max(1, int(hold / 2.5))


def command_line(options: dict) -> str:
    words = ["python -m instamini bench realtime", f"--users {options['users']}", f"--sockets {options['sockets']}",
             f"--rate {options['rate']:g}", f"--seconds {options['seconds']:g}", f"--seed {options['seed']}",
             f"--arrivals {options['arrivals']}", f"--likes {options['likes']}", f"--hold {options['hold']:g}"]
    return " ".join(words)


def server_log_errors(path: Path) -> list[str]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [line for line in lines if "Traceback" in line or " ERROR " in line or line.startswith("ERROR")][:10]


def on_fresh_server(workdir: Path, data_dir: Path, heartbeat: int, plan: Plan, phases: tuple[str, ...]) -> dict:
    """Start a server on the seeded data, run these phases against it from the client core, stop it."""
    server_cpu, client_cpu = _cpus()
    config_file = workdir / f"realtime-{heartbeat}.toml"
    config_file.write_text(server_toml(heartbeat))
    say(f"starting a server (core {server_cpu}, heartbeat {heartbeat} s) for: {', '.join(phases)}; "
        f"client on core {client_cpu}")
    with ServerProcess(config_file, data_dir, cpu=server_cpu) as server:
        pid = worker_pid(server.process.pid)
        plan = dataclasses.replace(plan, port=server.port, worker_pid=pid)
        limit = open_files_limit(pid)
        measured = run_client(plan, phases, client_cpu)
        alive = server.process.poll() is None
    server = {"cpu": server_cpu, "heartbeat_seconds": heartbeat, "open_files_limit": limit, "alive_at_end": alive,
              "log_errors": server_log_errors(server.log_path)}
    client = {"cpu": client_cpu, "open_files_limit": measured.pop("client_open_files_limit"),
              "peak_rss_kb": measured.pop("client_peak_rss_kb")}
    return {**measured, "server": server, "client": client}


def measure(workdir: Path, options: dict) -> dict:
    say(f"seeding {options['users']} people (python -m instamini demo) ...")
    data_dir, tokens, seed_seconds = seed_network(workdir, options["users"], 0, options["seed"])
    who = cast(data_dir, tokens, options["sockets"], options["likes"], options["seed"])
    plan = Plan(
        "127.0.0.1", 0, 0, tokens, who.devices, who.pairs, who.likes, options["rate"], options["seconds"],
        options["arrivals"], options["seed"], options["like_rate"], options["handshakes"], options["hold"],
        options["drain"],
    )
    # Phase 1 wants the heartbeat to fire within the hold; the others run on a second fresh
    # server with the default heartbeat, so that pings to quiet sockets do not add to their load.
    held = on_fresh_server(workdir, data_dir, heartbeat_for(options["hold"]), plan, ("sockets",))
    timed = on_fresh_server(workdir, data_dir, RealtimeConfig().heartbeat_seconds, plan, ("messages", "likes"))
    timed["messages"]["pairs_across_shards"] = who.pairs_across_shards
    network = {"users": len(tokens), "seed_seconds": seed_seconds}
    return {"network": network, "sockets": held["sockets"], "messages": timed["messages"], "likes": timed["likes"],
            "servers": [held["server"], timed["server"]], "clients": [held["client"], timed["client"]]}


def run(
    seconds: float, *, users: int = 2000, sockets: int = 10000, rate: float = 2000.0, seed: int = 1,
    arrivals: str = "poisson", likes: int = 200, like_rate: float = 50.0, hold: float = 10.0, handshakes: int = 64,
    drain: float = 10.0,
) -> dict:
    if arrivals not in ("poisson", "uniform"):
        raise SystemExit(f"bench realtime --arrivals: poisson or uniform, not {arrivals!r}")
    if users < 2:
        raise SystemExit("bench realtime --users: at least 2 (messages need pairs)")
    options = {
        "seconds": seconds, "users": users, "sockets": sockets, "rate": rate, "seed": seed, "arrivals": arrivals,
        "likes": likes, "like_rate": like_rate, "hold": hold, "handshakes": handshakes, "drain": drain,
    }
    raise_open_files_limit()
    report = {"scenario": "realtime", "command": command_line(options), "parameters": options, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="instamini-bench-") as tmp:
        report.update(measure(Path(tmp), options))
    return report

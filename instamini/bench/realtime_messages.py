"""Phase 2 of the realtime benchmark: messages at a fixed rate between pairs of people.

Open loop (see openloop.py): each message leaves at its intended time whatever the
answers; its delivery latency runs from that time to the moment the recipient's socket
gets the frame, and its ack latency to the moment the sender's does.

Cost: one thread per pair created through the API first; then one frame per message.
"""

from __future__ import annotations

import asyncio
import random
import time

import msgspec
from websockets.exceptions import ConnectionClosed

from .feed import say
from .openloop import TIMER_SLACK, OpStats, _ms, _op_report, arrival_offsets
from .procstats import ServerUsage, settle
from .realtime_plan import COMMITS, Plan, THREAD_WORKERS, WRITE_JOBS, message_frame, sequence, server_counters
from .wsclient import GcPauses, Http, Peer, ServerFrame, close_all, open_many


# -- phase 2: messages at a fixed rate ----------------------------------------------------


class Deliveries:
    """Each message sent, matched with its frame on the recipient's socket and the sender's ack."""

    def __init__(self) -> None:
        self.origins: list[float] = []  # by sequence number: intended send time (loop clock)
        self.recipients: list[Peer] = []
        self.delivered, self.acked = bytearray(), bytearray()
        self.delivery, self.ack = OpStats(), OpStats()
        self.notifications = self.strays = self.send_failures = self.late = 0
        self.errors: dict[str, int] = {}
        self.last_delivery = 0.0
        self.sending, self.given_up = True, False
        self.complete = asyncio.Event()

    def sent(self, origin: float, recipient: Peer) -> int:
        self.origins.append(origin)
        self.recipients.append(recipient)
        self.delivered.append(0)
        self.acked.append(0)
        return len(self.origins) - 1

    def on_frame(self, peer: Peer, frame: ServerFrame, now: float) -> None:
        if self.given_up and frame.type in ("message", "ack"):
            self.late += 1  # after the drain: already counted as lost
        elif frame.type == "message":
            self._delivered(peer, sequence(frame.message.text) if frame.message else None, now)
        elif frame.type == "ack":
            self._acked(sequence(frame.client_id or ""), now)
        elif frame.type == "notification":
            self.notifications += 1  # "x sent you a message": the notifications module's push
        elif frame.type == "error":
            self.errors[frame.code or "?"] = self.errors.get(frame.code or "?", 0) + 1
        self.check()

    def _delivered(self, peer: Peer, seq: int | None, now: float) -> None:
        if seq is None or seq >= len(self.origins) or peer is not self.recipients[seq] or self.delivered[seq]:
            self.strays += 1
            return
        self.delivered[seq] = 1
        self.delivery.latencies.append(now - self.origins[seq])
        self.delivery.answered += 1
        self.last_delivery = now

    def _acked(self, seq: int | None, now: float) -> None:
        if seq is None or seq >= len(self.origins) or self.acked[seq]:
            self.strays += 1
            return
        self.acked[seq] = 1
        self.ack.latencies.append(now - self.origins[seq])
        self.ack.answered += 1

    def check(self) -> None:
        done = len(self.origins)
        if not self.sending and self.delivery.answered == done and self.ack.answered == done:
            self.complete.set()

    def give_up(self, now: float) -> None:
        """What never arrived counts as an error with its wait so far (a lower bound)."""
        self.given_up = True
        for seq, origin in enumerate(self.origins):
            for stats, seen in ((self.delivery, self.delivered), (self.ack, self.acked)):
                if not seen[seq]:
                    stats.latencies.append(now - origin)
                    stats.errors += 1
        self.delivery.sent = self.ack.sent = len(self.origins)


THREAD_TRIES = 5


async def start_threads(plan: Plan) -> tuple[list[str], int]:
    """One direct thread per pair, started by its first person: their ids in pair order, and
    how many starts had to be repeated (starting a direct thread again returns the same one)."""
    ids: list[str] = [""] * len(plan.pairs)
    todo, retried = list(range(len(plan.pairs))), 0

    async def start(http: Http, creator: str, other: str) -> str:
        nonlocal retried
        for _ in range(THREAD_TRIES):
            status, body = await http.request("POST", "/api/v1/threads", plan.tokens[creator], {"usernames": [other]})
            if status in (200, 201):
                return msgspec.json.decode(body)["id"]
            retried += 1  # seen: a 404 "no thread <its new id>" under concurrent starts
        raise RuntimeError(f"starting a thread {creator} -> {other}: {status} {body[:200]!r}")

    async def worker() -> None:
        http = Http(plan.host, plan.port)
        while todo:
            index = todo.pop()
            ids[index] = await start(http, *plan.pairs[index])
        http.close()

    await asyncio.gather(*(worker() for _ in range(THREAD_WORKERS)))
    return ids, retried


async def offer_messages(plan: Plan, peers: dict[str, Peer], threads: list[str], tracker: Deliveries) -> float:
    """Send each message at its intended time, whatever the answers do; returns seconds taken."""
    loop = asyncio.get_running_loop()
    schedule, choose = random.Random(plan.seed), random.Random(plan.seed + 1)
    start = loop.time()
    for offset in arrival_offsets(plan.rate, plan.seconds, plan.arrivals, schedule):
        due = start + offset
        # As in openloop.py: wake up to TIMER_SLACK early rather than late; an early message
        # counts from when it was really sent.
        wait = due - loop.time() - TIMER_SLACK
        if wait > 0:
            await asyncio.sleep(wait)
        index = choose.randrange(len(plan.pairs))
        sender, recipient = plan.pairs[index] if choose.random() < 0.5 else plan.pairs[index][::-1]
        seq = tracker.sent(min(due, loop.time()), peers[recipient])
        try:
            await peers[sender].send(message_frame(threads[index], seq))
        except ConnectionClosed:
            tracker.send_failures += 1
    return loop.time() - start


async def report_progress(tracker: Deliveries, started: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(1.0)
        say(f"  messages {loop.time() - started:5.1f} s  sent {len(tracker.origins)}  "
            f"delivered {tracker.delivery.answered}  acked {tracker.ack.answered}  "
            f"errors {sum(tracker.errors.values())}")


async def deliver_messages(plan: Plan) -> dict:
    http = Http(plan.host, plan.port)
    say(f"[messages] starting {len(plan.pairs)} direct threads ...")
    threads, retried = await start_threads(plan)
    tracker = Deliveries()
    people = [person for pair in plan.pairs for person in pair]
    opened = await open_many(plan.url, [(p, plan.tokens[p]) for p in people], tracker.on_frame,
                             concurrency=plan.handshakes, progress="message sockets")
    if opened.failures:
        raise RuntimeError(f"{len(opened.failures)} message sockets did not open: {opened.failures[:3]}")
    peers = {peer.user: peer for peer in opened.peers}
    say(f"[messages] {plan.rate:g} messages/s ({plan.arrivals}) for {plan.seconds:g} s "
        f"over {len(plan.pairs)} pairs ...")
    loop, client_gc = asyncio.get_running_loop(), GcPauses()
    client_gc.settle()
    counters, usage, cpu = await server_counters(http), ServerUsage(plan.worker_pid), time.process_time()
    started = loop.time()
    progress = loop.create_task(report_progress(tracker, started))
    send_seconds = await offer_messages(plan, peers, threads, tracker)
    server_user, server_system = usage.shares()
    tracker.sending = False
    tracker.check()
    try:
        await asyncio.wait_for(tracker.complete.wait(), plan.drain)
    except asyncio.TimeoutError:
        pass
    progress.cancel()
    client_cpu, ended, gc_pauses = time.process_time() - cpu, loop.time(), client_gc.stop()
    tracker.give_up(ended)
    # The notifications of the messages are made after them, by the notifications worker:
    # the sockets stay open until it is done, and its backlog shows as busy seconds.
    busy_after = await settle(plan.worker_pid)
    after = await server_counters(http)
    closed = sum(peer.closed_code is not None for peer in opened.peers)
    await close_all(opened.peers)
    http.close()
    sent = len(tracker.origins)
    per_message = {name: round((after[name] - counters[name]) / max(1, sent), 3) for name in counters}
    return {
        "pairs": len(plan.pairs),
        "thread_starts_repeated": retried,
        "sockets": len(opened.peers),
        "target_rate": plan.rate,
        "arrivals": plan.arrivals,
        "seconds": plan.seconds,
        "sent": sent,
        "send_seconds": round(send_seconds, 3),
        "offered_rate": round(sent / plan.seconds, 1),
        "achieved_rate": round(tracker.delivery.answered / max(send_seconds, tracker.last_delivery - started), 1),
        "delivery": _op_report(tracker.delivery, ended - started),
        "ack": _op_report(tracker.ack, ended - started),
        "lost": sent - tracker.delivery.answered,
        "acks_missing": sent - tracker.ack.answered,
        "error_frames": tracker.errors,
        "send_failures": tracker.send_failures,
        "stray_frames": tracker.strays,
        "frames_after_the_drain": tracker.late,
        "sockets_closed_by_server": closed,
        "message_notification_frames": tracker.notifications,
        "server_cpu_share_while_sending": {"user": server_user, "system": server_system},
        "server_busy_after_sending_seconds": busy_after,
        "server_commits_per_message": per_message[COMMITS],
        "server_write_jobs_per_message": per_message[WRITE_JOBS],
        "client_cpu_seconds": round(client_cpu, 3),
        "client_cpu_us_per_message": round(client_cpu / max(1, sent) * 1e6, 1),
        "client_full_gc_pauses_ms": [_ms(pause) for pause in gc_pauses],
    }



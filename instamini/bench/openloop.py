"""An open-loop HTTP/1.1 load generator: requests arrive on a schedule, not when answers do.

Closed loop (wrk, loadgen.py): N connections, each sending its next request when the
previous answer arrives. When the server stalls for a second, the client stalls with it:
the one slow request is measured once, and the hundreds of requests that real users would
have sent meanwhile are never sent at all. That is *coordinated omission* (Gil Tene's
term): the client coordinates with the server and omits exactly the samples that show the
stall, so the high percentiles look far better than what users see.

Open loop (this module): requests are due at fixed times, at a target rate with uniform or
Poisson (exponential, seeded) gaps between them, whatever the server is doing. Each latency
is measured from the request's *intended* send time, so time spent queueing (in the client
waiting for a connection, in the kernel, in the server) shows. A request that falls due
while every connection is busy opens another one, up to a cap (256 by default); at the cap
it waits for the next free connection, is counted as a "late start", and that wait is part
of its latency. A request that meets a connection the server has just closed (an idle
keep-alive one: granian closes those after 30 s) before any byte of its answer is sent
again once on a new connection, as a browser does, and counted as "resent". A request
still unanswered when the drain ends (`drain_seconds` after the last one was due) is an
error whose latency is its wait so far: an overloaded server cannot hide by not answering.
Each operation of a weighted mix is a builder that returns pre-encoded request bytes (and
a context handed back to an optional response callback).

Cost: raw `asyncio.open_connection` streams, requests encoded once by the caller where they
can be, responses parsed by Content-Length only: about 40 us of client CPU per request at
high rates (so some 25,000 requests a second from one core), more per request at low rates
where every request is its own wake-up. Measured on the 2-core development machine against
/healthz: 12,000 req/s sent and answered on schedule; above that the server (one core)
saturates at about 11,700 req/s while the generator uses under half of its own. The report
gives the client CPU per request, which says how close the generator itself is to its
limit. `run_in_process` runs it in its own process, pinned to its own core, so that it
never competes with the server it measures.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import multiprocessing
import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .loadgen import CONTENT_LENGTH, _percentile

Builder = Callable[[random.Random], tuple[bytes, Any]]
OnResponse = Callable[[Any, int, bytes], None]
TIMER_SLACK = 0.001  # seconds: the event loop's timers fire up to this late


@dataclass(frozen=True)
class Operation:
    """One kind of request in the mix: `build(rng)` -> (request bytes, context).

    `on_response(context, status, body)`, if set, sees every answer (e.g. to keep a cursor).
    Builders and callbacks must pickle (module-level functions, or methods of module-level
    classes) so that the mix can cross into the generator's own process.
    """

    name: str
    weight: float
    build: Builder
    on_response: OnResponse | None = None


def headers_block(headers: dict[str, str]) -> bytes:
    """Header lines encoded once, to be reused by every request that carries them."""
    return "".join(f"{key}: {value}\r\n" for key, value in headers.items()).encode()


def encode_request(method: str, path: str, headers: bytes = b"", body: bytes = b"") -> bytes:
    """An HTTP/1.1 request as bytes; `headers` comes from `headers_block` (JSON body assumed)."""
    head = b"%s %s HTTP/1.1\r\nHost: bench\r\n%s" % (method.encode(), path.encode(), headers)
    if body:
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


class Fixed:
    """A builder for constant requests: one of `requests`, picked at random, no context."""

    def __init__(self, *requests: bytes):
        self.requests = requests

    def __call__(self, rng: random.Random) -> tuple[bytes, None]:
        return (self.requests[0] if len(self.requests) == 1 else rng.choice(self.requests)), None


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)  # seconds from intended send to full answer
    errors: int = 0  # non-2xx answers, broken connections, no answer by the end of the drain
    sent: int = 0
    answered: int = 0


def arrival_offsets(rate: float, seconds: float, arrivals: str, rng: random.Random):
    """Intended send times (seconds from start): evenly spaced, or a Poisson process."""
    gap = (lambda: rng.expovariate(rate)) if arrivals == "poisson" else (lambda: 1.0 / rate)
    offset = gap() if arrivals == "poisson" else 0.0
    while offset < seconds:
        yield offset
        offset += gap()


class OpenLoop:
    """One run; `await OpenLoop(...).run()` returns the report, `.stats` keeps raw latencies."""

    def __init__(
        self, host: str, port: int, operations: list[Operation], rate: float, seconds: float, *,
        arrivals: str = "poisson", seed: int = 0, max_connections: int = 256, initial_connections: int = 16,
        drain_seconds: float = 10.0, progress: bool = True,
    ):
        if arrivals not in ("poisson", "uniform"):
            raise ValueError(f"arrivals: 'poisson' or 'uniform', not {arrivals!r}")
        self.host, self.port, self.operations = host, port, operations
        self.rate, self.seconds, self.arrivals = rate, seconds, arrivals
        self.max_connections, self.drain_seconds, self.progress = max_connections, drain_seconds, progress
        self.initial_connections = min(initial_connections, max_connections)
        self.schedule_rng, self.build_rng = random.Random(seed), random.Random(seed + 1)
        self.cumulative = list(itertools.accumulate(op.weight for op in operations))
        self.stats = {op.name: OpStats() for op in operations}
        self.start_delays: list[float] = []  # intended send -> request written: the client's own queueing
        self.sent = self.completed = self.failed = self.late_starts = 0
        self.resent = 0  # requests sent again after the server closed an idle connection under them
        self.connections = self.peak_connections = 0
        self.dispatching = True
        self.idle: list[asyncio.Future] = []  # one future per idle connection, resolved with its next request
        self.backlog: deque[tuple[float, Operation]] = deque()  # due requests waiting for a connection
        self.tasks: set[asyncio.Task] = set()
        self.pending: dict[int, tuple[float, Operation]] = {}  # handed out, not yet answered
        self.unfinished = 0

    async def run(self) -> dict:
        loop = asyncio.get_running_loop()
        # Connections opened before the clock starts: the first requests should not all pay a handshake.
        for streams in await asyncio.gather(*(self._connect() for _ in range(self.initial_connections))):
            self._spawn(None, streams)
        cpu_before, self.start = time.process_time(), loop.time()
        reporter = loop.create_task(self._report_progress(loop))
        await self._dispatch(loop)
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=self.drain_seconds)
        self.elapsed = loop.time() - self.start
        self._give_up(loop.time())
        reporter.cancel()
        self.client_cpu = time.process_time() - cpu_before
        return self.report()

    async def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand out each request at its intended time, whatever the answers are doing."""
        weights, total, draw = self.cumulative, self.cumulative[-1], self.schedule_rng.random
        for offset in arrival_offsets(self.rate, self.seconds, self.arrivals, self.schedule_rng):
            intended = self.start + offset
            # epoll sleeps in whole milliseconds, rounded up: wake up to TIMER_SLACK early rather
            # than up to 1 ms late; an early request's latency counts from when it was really sent.
            wait = intended - loop.time() - TIMER_SLACK
            if wait > 0:
                await asyncio.sleep(wait)
            self._hand_out((intended, self.operations[bisect.bisect(weights, draw() * total)]))
        self.dispatching = False
        for future in self.idle:  # no more work: idle connections close
            future.set_result(None)
        self.idle.clear()

    def _hand_out(self, item: tuple[float, Operation]) -> None:
        self.sent += 1
        self.stats[item[1].name].sent += 1
        self.pending[id(item)] = item  # until answered or failed
        if self.idle:
            self.idle.pop().set_result(item)
        elif self.connections < self.max_connections:
            self._spawn(item, None)
        else:
            self.late_starts += 1  # it waits for a connection; the wait counts in its latency
            self.backlog.append(item)

    def _spawn(self, item, streams) -> None:
        self.connections += 1
        self.peak_connections = max(self.peak_connections, self.connections)
        task = asyncio.get_running_loop().create_task(self._connection(item, streams))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self):
        return await asyncio.open_connection(self.host, self.port)

    async def _next_item(self):
        """The next due request for this connection, or None when the run is over."""
        if self.backlog:
            return self.backlog.popleft()
        if not self.dispatching:
            return None
        future = asyncio.get_running_loop().create_future()
        self.idle.append(future)
        return await future

    async def _connection(self, item, streams) -> None:
        """One keep-alive connection: send a due request, read its answer, take the next."""
        loop = asyncio.get_running_loop()
        reader, writer = streams or (None, None)
        try:
            if item is None:
                item = await self._next_item()
            while item is not None:
                if writer is None:
                    reader, writer = await self._open_or_fail(item)
                answered = False
                if writer is not None:
                    prepared = self._prepare(loop, item)
                    answered = await self._exchange(loop, reader, writer, item, prepared)
                    if answered is None:
                        # Closed before a byte of the answer: the server's normal end of an idle
                        # keep-alive connection (granian's, after 30 s), met by this request. A
                        # browser sends it again on a new connection; so does this client, once.
                        self.resent += 1
                        writer.close()
                        reader, writer = await self._open_or_fail(item)
                        answered = writer is not None and await self._exchange(
                            loop, reader, writer, item, prepared, last_try=True
                        )
                if writer is not None and not answered:
                    writer.close()
                    reader = writer = None  # broken: reconnect for the next request
                item = await self._next_item()
        finally:
            self.connections -= 1
            if writer is not None:
                writer.close()

    async def _open_or_fail(self, item):
        try:
            return await self._connect()
        except OSError:
            self._fail(item)
            return None, None

    def _fail(self, item: tuple[float, Operation]) -> None:
        del self.pending[id(item)]
        self.stats[item[1].name].errors += 1
        self.failed += 1

    def _give_up(self, now: float) -> None:
        """Requests still unanswered when the drain ends: errors, with their wait so far as
        latency (a lower bound, so that an overload cannot hide by never answering)."""
        for task in list(self.tasks):
            task.cancel()
        for intended, operation in self.pending.values():
            stats = self.stats[operation.name]
            stats.latencies.append(now - intended)
            stats.errors += 1
        self.unfinished = len(self.pending)

    def _prepare(self, loop, item) -> tuple[bytes, Any, float]:
        """The request's bytes, its context, and the time its latency counts from."""
        intended, operation = item
        request, context = operation.build(self.build_rng)
        sent = loop.time()
        origin = min(intended, sent)  # late: from when it was due; early (timer slack): from sending
        self.start_delays.append(sent - origin)
        return request, context, origin

    async def _exchange(self, loop, reader, writer, item, prepared, *, last_try: bool = False) -> bool | None:
        """One request and its answer; False if the connection broke; None if it was closed
        before any byte of the answer came (unless `last_try`): the caller may send it again."""
        _, operation = item
        request, context, origin = prepared
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            if not last_try and not getattr(error, "partial", b""):
                return None
            self._fail(item)
            return False
        except (OSError, asyncio.LimitOverrunError):
            self._fail(item)
            return False
        try:
            match = CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(match.group(1))) if match else b""
        except (OSError, asyncio.IncompleteReadError):
            self._fail(item)
            return False
        del self.pending[id(item)]
        stats = self.stats[operation.name]
        stats.latencies.append(loop.time() - origin)
        stats.answered += 1
        self.completed += 1
        status = int(head[9:12])
        if not 200 <= status < 300:
            stats.errors += 1
        if operation.on_response is not None:
            operation.on_response(context, status, body)
        return True

    async def _report_progress(self, loop) -> None:
        """A line a second on stderr: the run is alive, and whether it keeps up with its schedule."""
        if not self.progress:
            return
        previous = 0
        while True:
            await asyncio.sleep(1.0)
            errors = sum(stats.errors for stats in self.stats.values())
            print(
                f"  open loop {loop.time() - self.start:5.1f} s  sent {self.sent}  completed {self.completed}"
                f"  rate {self.completed - previous}/s  errors {errors}  late starts {self.late_starts}",
                file=sys.stderr, flush=True,
            )
            previous = self.completed

    def report(self) -> dict:
        operations = {name: _op_report(stats, self.elapsed) for name, stats in self.stats.items()}
        delays = sorted(self.start_delays)
        return {
            "target_rate": self.rate,
            "arrivals": self.arrivals,
            "seconds": self.seconds,
            "sent": self.sent,
            "completed": self.completed,
            "errors": sum(stats.errors for stats in self.stats.values()),
            "unfinished": self.unfinished,
            "late_starts": self.late_starts,
            "resent_after_idle_close": self.resent,
            "peak_connections": self.peak_connections,
            "offered_rate": round(self.sent / self.seconds, 1),
            "achieved_rate": round(self.completed / self.elapsed, 1),
            "elapsed_seconds": round(self.elapsed, 3),
            "start_delay_p99_ms": _ms(_percentile(delays, 0.99)),
            "client_cpu_seconds": round(self.client_cpu, 3),
            "client_cpu_us_per_request": round(self.client_cpu / max(1, self.sent) * 1e6, 1),
            "operations": operations,
        }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _op_report(stats: OpStats, elapsed: float) -> dict:
    latencies = sorted(stats.latencies)
    return {
        "sent": stats.sent,
        "count": stats.answered,
        "errors": stats.errors,
        "throughput": round(stats.answered / elapsed, 1),
        "p50_ms": _ms(_percentile(latencies, 0.50)),
        "p99_ms": _ms(_percentile(latencies, 0.99)),
        "p999_ms": _ms(_percentile(latencies, 0.999)),
        "max_ms": _ms(latencies[-1]) if latencies else 0.0,
    }


def _child(host: str, port: int, operations: list[Operation], rate: float, seconds: float, cpu: int | None,
           options: dict) -> dict:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return asyncio.run(OpenLoop(host, port, operations, rate, seconds, **options).run())


def run_in_process(
    host: str, port: int, operations: list[Operation], rate: float, seconds: float, *, cpu: int | None = None, **options
) -> dict:
    """Run the generator in a fresh (spawned) process, pinned to `cpu`; returns its report."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_child, host, port, operations, rate, seconds, cpu, options).result()

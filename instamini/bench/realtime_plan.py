"""What the realtime benchmark's client is told (Plan), and the figures it computes.

Shared by the phases (realtime.py, realtime_messages.py): the plan crosses into the
client process; the helpers turn latencies and /metrics into report fields.

Cost: nothing at import; the helpers are small.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .loadgen import _percentile
from .openloop import _ms
from .prometheus import metric_value
from .wsclient import Http


HEALTHZ_SAMPLES = 200
THREAD_WORKERS = 8  # concurrent thread creations before the message phase
COMMITS, WRITE_JOBS = "instamini_meta_commits_total", "instamini_meta_write_jobs_total"


@dataclass
class Plan:
    """Everything the client process needs (it pickles: it crosses into that process)."""

    host: str
    port: int
    worker_pid: int  # the granian worker: its /proc entry gives memory and CPU
    tokens: dict[str, str]
    devices: list[str]  # the person behind each socket of phase 1
    pairs: list[tuple[str, str]]  # phase 2: (thread creator, the other)
    likes: list[tuple[str, str, str]]  # phase 3: (liker, author, post id)
    rate: float
    seconds: float
    arrivals: str
    seed: int
    like_rate: float
    handshakes: int  # at most this many at once
    hold: float
    drain: float

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"


# -- figures ---------------------------------------------------------------------------


def latency_summary(seconds: list[float]) -> dict:
    """Count and percentiles (ms) of a list of latencies in seconds."""
    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "p50_ms": _ms(_percentile(ordered, 0.50)),
        "p99_ms": _ms(_percentile(ordered, 0.99)),
        "p999_ms": _ms(_percentile(ordered, 0.999)),
        "max_ms": _ms(ordered[-1]) if ordered else 0.0,
    }


def sequence(text: str) -> int | None:
    """The sequence number the bench put at the end of a message's text."""
    tail = text.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else None


def message_frame(thread_id: str, seq: int) -> str:
    return f'{{"type":"message","thread_id":"{thread_id}","text":"bench {seq}","client_id":"{seq}"}}'


async def healthz_latency(http: Http, samples: int) -> dict:
    loop, latencies, errors = asyncio.get_running_loop(), [], 0
    for _ in range(samples):
        started = loop.time()
        status, _ = await http.request("GET", "/healthz")
        latencies.append(loop.time() - started)
        errors += status != 200
    return {**latency_summary(latencies), "errors": errors}


async def server_counters(http: Http) -> dict[str, float]:
    _, text = await http.request("GET", "/metrics")
    return {name: metric_value(text.decode(), name) or 0.0 for name in (COMMITS, WRITE_JOBS)}



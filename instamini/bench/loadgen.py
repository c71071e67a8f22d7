"""A small closed-loop HTTP/1.1 load generator, and a wrapper around wrk.

The benchmark needs a client that costs less CPU than the server it measures.
`wrk` (C, Debian package `wrk`) is used when installed; otherwise this module's
pure-asyncio client: N keep-alive connections, each sending the next request as
soon as the previous answer is read, with raw bytes and no HTTP library, which
keeps it at a few tens of microseconds of client CPU per request.

Both report requests per second, errors (non-2xx or broken connections) and
latency percentiles. Ratios between endpoints are what the docs compare: on a
2-core machine absolute figures move with whatever else runs.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import subprocess
import tempfile
import time

import msgspec


class LoadResult(msgspec.Struct):
    tool: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


CONTENT_LENGTH = re.compile(rb"(?i)content-length:\s*(\d+)")


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: bench"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _connection(host, port, requests: list[bytes], deadline: float, latencies: list[float], counts: list[int]):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            request = random.choice(requests)
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            match = CONTENT_LENGTH.search(head)
            if match:
                await reader.readexactly(int(match.group(1)))
            latencies.append(time.perf_counter() - started)
            counts[0] += 1
            if not 200 <= status < 300:
                counts[1] += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        counts[1] += 1
    finally:
        writer.close()


async def python_load(host: str, port: int, paths: list[str], headers: dict[str, str], seconds: float, connections: int) -> LoadResult:
    requests = [_request(path, headers) for path in paths]
    latencies: list[float] = []
    counts = [0, 0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_connection(host, port, requests, deadline, latencies, counts) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        "python", counts[0], counts[1], round(elapsed, 2), round(counts[0] / elapsed, 1),
        round(_percentile(latencies, 0.50) * 1000, 2), round(_percentile(latencies, 0.99) * 1000, 2),
    )


WRK_SCRIPT = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("IM %%d %%d %%d %%d %%f %%f\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(host: str, port: int, paths: list[str], headers: dict[str, str], seconds: float, connections: int, cpu: int | None) -> LoadResult:
    script = WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", handle.name]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    command.append(f"http://{host}:{port}{paths[0]}")
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    try:
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    fields = next(line for line in output.splitlines() if line.startswith("IM ")).split()[1:]
    requests, status_errors, socket_errors = int(fields[0]), int(fields[1]), int(fields[2])
    duration = int(fields[3]) / 1e6
    return LoadResult(
        "wrk", requests, status_errors + socket_errors, round(duration, 2), round(requests / duration, 1),
        round(float(fields[4]) / 1000, 2), round(float(fields[5]) / 1000, 2),
    )


def load(host, port, paths, headers, seconds, connections=32, cpu=None, tool="auto") -> LoadResult:
    """Drive GETs over `paths` for `seconds`; wrk if installed (tool='auto'), else the Python client."""
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return wrk_load(host, port, paths, headers, seconds, connections, cpu)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    return asyncio.run(python_load(host, port, paths, headers, seconds, connections))

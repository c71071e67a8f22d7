"""The server process seen from outside, through /proc: its worker, memory, CPU and limits.

The idea: a benchmark reports what the server spent (resident memory per socket, the
share of its core in use) without asking the server, by reading the kernel's view of
the granian worker process; and waits for the server to go idle between phases.

Cost: a few small file reads per sample.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from pathlib import Path


def worker_pid(pid: int) -> int:
    """Granian serves from a child of the process ServerProcess started: that child's pid."""
    children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    if len(children) != 1:
        raise RuntimeError(f"expected one granian worker under {pid}, found {children}")
    return children[0]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # utime, stime


def open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise RuntimeError(f"no open-files limit for {pid}")


def raise_open_files_limit() -> None:
    """Soft limit up to the hard one: the server and the client inherit it from here."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class ServerUsage:
    """The worker's CPU over a stretch of wall time: how busy its one core was."""

    def __init__(self, pid: int) -> None:
        self.pid, self.cpu, self.wall = pid, cpu_times(pid), time.monotonic()

    def shares(self) -> tuple[float, float]:
        """(user, system) CPU seconds per wall second since the start."""
        wall, now = time.monotonic() - self.wall, cpu_times(self.pid)
        return round((now[0] - self.cpu[0]) / wall, 3), round((now[1] - self.cpu[1]) / wall, 3)

    def share(self) -> float:
        return round(sum(self.shares()), 3)


async def settle(pid: int, quiet: float = 0.1, window: float = 0.5, timeout: float = 120.0) -> float:
    """Wait until the server is idle (under `quiet` of a core for `window` seconds), so that
    work queued by one phase (notifications, closing sockets) is not billed to the next;
    returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        usage = ServerUsage(pid)
        await asyncio.sleep(window)
        if usage.share() < quiet:
            break
    return round(time.monotonic() - started, 2)

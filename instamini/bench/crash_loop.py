"""The crash loop: SIGKILL the real server again and again under a mixed write load, and
check after every restart that each acknowledged write is there, once.

One cycle: top up everyone's photos; start the write threads; once a random number of
writes has been acknowledged, SIGKILL the server's process group (granian, its worker
and the media workers) in the middle of whatever is in flight; check the files with the
server down (crash_check.check_files); start it again on the same data directory; wait
for fan-out to finish what the kill left and check every acknowledged write so far
through the API (crash_check.settle); send again the in-flight writes that are safe to
repeat, and check that no post is there twice. After the last kill the server is
stopped cleanly and the files are checked once more; the outbox must then be empty.

Used by benchmarks/crash_kill_loop.py (20 kills) and tests/reliability/test_crash_loop.py
(3 short ones). Cost per cycle: one server start (about 0.7 s), the load, and a check
that grows with the writes made so far (about a second after a few thousand).
"""

from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .crash_check import FilesCheck, check_files, retry_in_flight, settle
from .crash_load import KINDS, Cast, Ledger, Write, WriteLoad, answer_id, send
from .server import ServerProcess

SERVER_TOML = """
[accounts]
registrations_per_address_per_minute = 10000
[media]
uploads_per_address_per_minute = 100000
[feed]
timeline_size = 10000            # every post stays in every timeline: the check can ask for all of them
[moderation]
spam_rate_per_minute = 1000000   # simulated people write far faster than a person; not spam
[plugins]
dirs = []
"""
# Everyone's photos are topped up to this many at the start of each cycle.
PHOTOS_EACH = 6


@dataclass
class KindFigures:
    acknowledged: int = 0  # 2xx answers during the loads (retries not counted)
    present: int = 0  # of those, found at the check after the kill that ended their cycle
    in_flight: int = 0  # broken off by a kill
    landed: int = 0  # of those, found anyway after the restart


@dataclass
class Report:
    kills: int = 0
    figures: dict[str, KindFigures] = field(default_factory=lambda: {kind: KindFigures() for kind in KINDS})
    file_checks: list[FilesCheck] = field(default_factory=list)  # after each kill, then after the clean stop
    problems: list[str] = field(default_factory=list)
    outbox_left: list[int] = field(default_factory=list)  # fan-out rows each kill cut short
    retried: int = 0
    fanned_out: int = 0  # (post, follower) pairs found in feeds at the last check
    seconds: float = 0.0
    check_seconds: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(f.present == f.acknowledged for f in self.figures.values())

    def lines(self) -> list[str]:
        lines = [f"{self.kills} SIGKILLs in {self.seconds:.0f} s"]
        for kind, f in self.figures.items():
            lines.append(f"{kind:>8}: acknowledged {f.acknowledged}, present {f.present} of {f.acknowledged}"
                         f" (in flight at a kill: {f.in_flight}, of which landed: {f.landed})")
        clean = sum(not check.problems for check in self.file_checks)
        files = self.file_checks[0].files if self.file_checks else []
        lines.append(f"integrity_check and counters ok after {clean} of {len(self.file_checks)} stops, "
                     f"on {len(files)} SQLite files ({self.file_checks[0].shards if files else 0} shards)")
        lines.append(f"fan-out rows cut short by the kills: {sum(self.outbox_left)}, every one finished after the restart"
                     if not self.problems else f"problems: {len(self.problems)}")
        lines.append(f"in-flight posts, likes and follows sent again after a restart: {self.retried}")
        lines.append(f"(post, follower) pairs found in the follower's home feed at the last check: {self.fanned_out}")
        if self.check_seconds:
            lines.append(f"check after a restart: {min(self.check_seconds):.1f} to {max(self.check_seconds):.1f} s")
        return lines + [f"PROBLEM {problem}" for problem in self.problems[:50]]


def run(
    workdir: Path, *, kills: int = 20, acks: tuple[int, int] = (60, 240), people: int = 6, threads: int = 3,
    seed: int = 1, settle_timeout: float = 60.0, log=lambda line: None,
) -> Report:
    """Kill the server `kills` times, each after a random number (in `acks`) of acknowledged writes."""
    started, rng, report = time.monotonic(), random.Random(seed), Report()
    workdir.mkdir(parents=True, exist_ok=True)
    config_file, data = workdir / "crash.toml", workdir / "data"
    if data.exists():
        raise ValueError(f"{data} exists: the crash loop starts from an empty data directory")
    config_file.write_text(SERVER_TOML)
    server, ledger = ServerProcess(config_file, data), Ledger()
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            cast = Cast.register(http, people)
            ledger.begin_cycle(1)
            cast.top_up(http, PHOTOS_EACH)
            for person in cast.people:  # something to like and comment on from the start
                _write_now(http, cast, ledger, Write("post", person.index, "", ledger.unique_text("post"), 1, [person.photos.pop()]))
        for cycle in range(1, kills + 1):
            _cycle(server, cast, ledger, cycle, rng, people, threads, acks, settle_timeout, report)
            report.kills = cycle
            log(f"kill {cycle}: {ledger.acked_in_cycle} acknowledged, {report.outbox_left[-1]} fan-out rows cut short, "
                f"check {report.check_seconds[-1]:.1f} s, problems so far {len(report.problems)}")
        server.stop()  # clean, as Ctrl-C: the outbox must be empty after it
        final = check_files(data)
        report.file_checks.append(final)
        report.problems += final.problems
        if final.outbox_rows:
            report.problems.append(f"{final.outbox_rows} fan-out rows left after the clean stop")
    finally:
        server.stop()
    report.problems += ledger.refused
    report.seconds = time.monotonic() - started
    return report


def _cycle(server: ServerProcess, cast: Cast, ledger: Ledger, cycle: int, rng: random.Random, people: int,
           threads: int, acks: tuple[int, int], settle_timeout: float, report: Report) -> None:
    if cycle > 1:
        ledger.begin_cycle(cycle)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            cast.top_up(http, PHOTOS_EACH)
    loads = [WriteLoad(server.url, cast, cast.people[t::threads], ledger, rng.randrange(1 << 30)) for t in range(threads)]
    for load in loads:
        load.start()
    # Every other kill lands right after a post's acknowledgement, inside its fan-out if it can.
    if not ledger.wait_for_acks(rng.randint(*acks), timeout=120, then="post" if cycle % 2 else None):
        report.problems.append(f"cycle {cycle}: the load stalled at {ledger.acked_in_cycle} acknowledged writes")
    kill(server)
    for load in loads:
        load.join(30)
        if load.error is not None:
            report.problems.append(f"cycle {cycle}: a load thread failed: {load.error!r}")
    files = check_files(server.data_dir)
    report.file_checks.append(files)
    report.outbox_left.append(files.outbox_rows)
    report.problems += [f"after kill {cycle}: {problem}" for problem in files.problems]
    server.start()
    checked = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        findings = settle(http, cast, ledger, cycle, files.outbox_rows, settle_timeout)
        report.check_seconds.append(time.monotonic() - checked)
        report.fanned_out = findings.fanned_out
        report.problems += [f"after kill {cycle}: {problem}" for problem in findings.problems]
        for kind, figures in report.figures.items():
            figures.acknowledged += sum(1 for w in ledger.acked(kind) if w.cycle == cycle and not w.retried)
            figures.in_flight += sum(1 for w in ledger.writes if w.kind == kind and w.cycle == cycle and not w.acked)
            figures.present += findings.present[kind]
            figures.landed += findings.landed[kind]
        report.retried += sum(1 for w in ledger.in_flight if w.kind in ("post", "like", "follow", "unfollow"))
        report.problems += [f"after kill {cycle}: {problem}" for problem in retry_in_flight(http, cast, ledger)]


def kill(server: ServerProcess) -> None:
    """SIGKILL the whole process group, and wait until none of it runs (a worker may still be
    finishing a system call when the parent is gone)."""
    pgid = server.process.pid
    server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)  # the kernel is tearing the processes down


def _group_alive(pgid: int) -> bool:
    """Any process of the group not yet dead (zombies, waiting to be reaped, do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _write_now(http: httpx.Client, cast: Cast, ledger: Ledger, write: Write) -> None:
    response = send(http, cast, write)
    response.raise_for_status()
    ledger.ack(write, answer_id(write, response))

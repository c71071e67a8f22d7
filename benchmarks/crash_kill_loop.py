"""Crash loop: SIGKILL the real server again and again under a mixed write load; after every
restart each acknowledged write must be there, once, and every SQLite file intact.

The run (instamini/bench/crash_loop.py does the work): a cast of people (6 by default)
write from a few threads (3) posts of photos uploaded and processed beforehand, likes,
comments, follows and unfollows, direct messages; after a random number of acknowledged
writes (60 to 240) the server's whole process group gets SIGKILL, every other time right
after a post's acknowledgement so that its fan-out is cut; with the server down every
SQLite file is opened read-only for `PRAGMA integrity_check` and the counters are matched
against the rows; the server restarts on the same data directory, and once fan-out has
finished what the kill left, every write acknowledged so far is looked for through the
API (grids, feeds of every follower, likes, follow lists both ways, comments, threads).
Printed: per kind, "acknowledged N, present N of N" (present: found at the check right
after the kill that followed it), the writes in flight at a kill and how many had landed,
the file checks and the time taken. Exit status 1 if anything was missing or twice.

    python benchmarks/crash_kill_loop.py [--kills 20] [--seed 1] [--workdir DIR] [--json FILE]

Cost: about 4 s per kill on the 2-core development machine (server start, load, check).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

# Run from a checkout: the repository root on the path, as `python -m` would put it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from instamini.bench import crash_loop  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs (and restarts) in the run")
    parser.add_argument("--acks", type=int, nargs=2, default=(60, 240), metavar=("MIN", "MAX"),
                        help="acknowledged writes before each kill: a random number in this range")
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", help="where the data directory goes (default: a temporary directory)")
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crash-loop-") as scratch:
        workdir = Path(args.workdir) if args.workdir else Path(scratch)
        report = crash_loop.run(
            workdir, kills=args.kills, acks=tuple(args.acks), people=args.people, threads=args.threads,
            seed=args.seed, log=lambda line: print(line, flush=True),
        )
    print("\n".join(report.lines()))
    if args.json:
        Path(args.json).write_text(json.dumps({"ok": report.ok, **dataclasses.asdict(report)}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

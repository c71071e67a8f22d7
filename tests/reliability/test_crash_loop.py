"""SIGKILL the real server three times under a mixed write load: every acknowledged write
is there after each restart, once, fanned out to every follower, with every SQLite file
intact; and the checks that say so do find a missing write, a counter that disagrees with
its rows and a damaged file.

The loop is instamini/bench/crash_loop.py; benchmarks/crash_kill_loop.py runs it with 20
kills for the figures in docs/reliability.md. Cost: about 15 s (four server starts, a few
hundred writes); the second test about 3 s.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import httpx

from instamini.bench import crash_loop
from instamini.bench.crash_check import check_api, check_files
from instamini.bench.crash_load import Cast, Ledger, Write, answer_id, send
from instamini.bench.server import ServerProcess


def test_every_acknowledged_write_survives_three_sigkills(tmp_path):
    report = crash_loop.run(tmp_path, kills=3, acks=(30, 80), seed=3)
    assert report.problems == [], "\n".join(report.lines())
    for kind, figures in report.figures.items():
        assert figures.present == figures.acknowledged, (kind, figures)
        assert figures.acknowledged > 0 or kind == "unfollow", (kind, figures)  # an unfollow needs a follow first
    assert report.kills == 3 and len(report.file_checks) == 4  # after each kill and after the clean stop
    assert all(check.shards == 8 and "blobs/refs.sqlite" in check.files for check in report.file_checks)


def has_posts(path: Path) -> bool:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT 1 FROM posts").fetchone() is not None


def test_the_checks_find_a_lost_write_a_wrong_counter_and_a_damaged_file(tmp_path):
    config_file, data = tmp_path / "crash.toml", tmp_path / "data"
    config_file.write_text(crash_loop.SERVER_TOML)
    with ServerProcess(config_file, data) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        cast, ledger = Cast.register(http, 2), Ledger()
        ledger.begin_cycle(1)
        cast.top_up(http, 1)
        post = Write("post", 0, "", ledger.unique_text("post"), 1, [cast.people[0].photos.pop()])
        ledger.ack(post, answer_id(post, send(http, cast, post)))
        assert check_api(http, cast, ledger, 1).problems == []
        ledger.ack(Write("comment", 1, post.result, "never sent", 1), "12345")  # as if acknowledged, then lost
        ledger.follows[(1, 0)] = True
        problems = " | ".join(check_api(http, cast, ledger, 1).problems)
        assert "acknowledged comment 12345 ('never sent') is there 0 times" in problems, problems
        assert "crash1 -> crash0: expected following" in problems, problems
        assert "is not in follower crash1's feed" in problems, problems
    assert check_files(data).problems == []

    shard = next(path for path in sorted((data / "meta").glob("shard-*.sqlite")) if has_posts(path))
    with closing(sqlite3.connect(shard)) as conn, conn:  # the server is stopped: a change behind its back
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'posts'")
    assert any("posts of" in problem and "counter 2, rows 1" in problem for problem in check_files(data).problems)

    with shard.open("r+b") as file:  # a page of the file overwritten, as a torn write could leave it
        file.seek(4096)
        file.write(b"\xff" * 4096)
    damaged = [problem for problem in check_files(data).problems if problem.startswith(shard.relative_to(data).as_posix())]
    assert damaged and "counter" not in " ".join(damaged), damaged

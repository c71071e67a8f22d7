"""What a crash must leave behind: the crash loop's checks, on the files and through the API.

On the files, with the server stopped (right after the kill, before the restart): every
SQLite file of the data directory, opened read-only, passes `PRAGMA integrity_check`; on
each shard the counters kept beside rows (a post's likes and comments, an author's posts,
follows both ways) equal a count of those rows, because a write and its counter are one
transaction: a crash may fall between two writes, never inside one; and the fan-out
outbox rows that the kill left are counted.

Through the API, after the restart: once the fan-out worker has finished the rows the
kill left (its lag histogram counts one observation per finished row), every write that
the ledger holds as acknowledged is there, exactly once: each post in its author's grid
and in the home feed of everyone who follows the author, each like counted and shown as
liked, each follow and unfollow in both people's lists and counts, each comment under its
post, each message in its thread for both people in it. A write that was in flight may be
there or not, but never twice. What waits on an outbox (the second half of a follow) is
polled for, up to a timeout.

Cost: a few hundred GET requests per check once the ledger holds thousands of writes
(lists are read 100 items a page), and one read of every SQLite file.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .crash_load import Cast, Ledger, Write, answer_id, send
from .prometheus import metric_value

SQLITE_MAGIC = b"SQLite format 3\x00"
# Counter name -> (object id, number of rows) of what it counts, on one shard.
COUNTED_ROWS = {
    "likes": "SELECT post_id, count(*) FROM likes GROUP BY post_id",
    "comments": "SELECT post_id, count(*) FROM comments WHERE NOT spam GROUP BY post_id",
    "posts": "SELECT author_id, count(*) FROM posts GROUP BY author_id",
    "following": "SELECT src, count(*) FROM edges WHERE kind = 'following' GROUP BY src",
    "followers": "SELECT src, count(*) FROM edges WHERE kind = 'follower' GROUP BY src",
}


# -- on the files -------------------------------------------------------------------------


@dataclass
class FilesCheck:
    files: list[str] = field(default_factory=list)  # the SQLite files checked, relative to the data directory
    problems: list[str] = field(default_factory=list)
    outbox_rows: int = 0  # fan-out rows waiting: what the kill cut short

    @property
    def shards(self) -> int:
        return sum(name.startswith("meta/shard-") for name in self.files)


def sqlite_files(data_dir: Path) -> list[Path]:
    def is_sqlite(path: Path) -> bool:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC

    return sorted(path for path in data_dir.rglob("*") if path.is_file() and is_sqlite(path))


def check_files(data_dir: Path) -> FilesCheck:
    """Only while no server has the directory open: read-only, so the check changes nothing."""
    found = FilesCheck()
    for path in sqlite_files(data_dir):
        name = path.relative_to(data_dir).as_posix()
        found.files.append(name)
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                found.problems.append(f"{name}: integrity_check says {result[:5]}")
            elif name.startswith("meta/shard-"):
                found.problems += [f"{name}: {problem}" for problem in _counter_problems(conn)]
                found.outbox_rows += conn.execute("SELECT count(*) FROM feed_outbox").fetchone()[0]
        except sqlite3.DatabaseError as error:  # too damaged to be read at all
            found.problems.append(f"{name}: {error}")
        finally:
            conn.close()
    return found


def _counter_problems(conn: sqlite3.Connection) -> list[str]:
    problems = []
    for name, sql in COUNTED_ROWS.items():
        rows = dict(conn.execute(sql).fetchall())
        counted = dict(conn.execute("SELECT object_id, value FROM counters WHERE name = ? AND value != 0", (name,)))
        for object_id in rows.keys() | counted.keys():
            if rows.get(object_id, 0) != counted.get(object_id, 0):
                problems.append(f"{name} of {object_id}: counter {counted.get(object_id, 0)}, rows {rows.get(object_id, 0)}")
    return problems


# -- through the API ------------------------------------------------------------------------


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    present: Counter = field(default_factory=Counter)  # acknowledged writes of the cycle checked, found, by kind
    landed: Counter = field(default_factory=Counter)  # writes of that cycle broken off by the kill, found anyway
    fanned_out: int = 0  # (post, follower) pairs found in the follower's feed, the author's own feed not counted


def items(http: httpx.Client, path: str, headers: dict | None = None, **params) -> list[dict]:
    """Every item of a cursor-paginated list."""
    found, cursor = [], None
    while True:
        response = http.get(path, headers=headers, params={"limit": 100, **params, **({"cursor": cursor} if cursor else {})})
        response.raise_for_status()
        body = response.json()
        found += body["items"]
        if (cursor := body["next_cursor"]) is None:
            return found


def check_api(http: httpx.Client, cast: Cast, ledger: Ledger, cycle: int) -> Findings:
    """Every acknowledged write so far; `present` and `landed` count those of `cycle`."""
    findings = Findings()
    posted, missing = check_posts(http, cast, ledger, findings)
    _check_likes(http, cast, ledger, cycle, findings)
    _check_follows(http, cast, ledger, cycle, findings)
    missing |= _check_feeds(http, cast, ledger, posted, findings)
    findings.present["post"] += sum(1 for i, write in posted.items() if write.cycle == cycle and i not in missing)
    _check_comments(http, cast, ledger, cycle, findings)
    _check_messages(http, cast, ledger, cycle, findings)
    return findings


def check_posts(http: httpx.Client, cast: Cast, ledger: Ledger, findings: Findings) -> tuple[dict[str, Write], set[str]]:
    """Each author's grid holds their acknowledged posts once, and no more than the in-flight
    ones besides; the profile count agrees. Returns the acknowledged posts by id, and those missing."""
    posted, missing = {write.result: write for write in ledger.acked("post")}, set()
    unknown = Counter(write.actor for write in ledger.unknown("post"))
    for person in cast.people:
        ids = Counter(item["id"] for item in items(http, f"/api/v1/users/{person.name}/posts", person.headers))
        mine = {post_id for post_id, write in posted.items() if write.actor == person.index}
        findings.problems += [f"post {i} by {person.name} is in their grid {n} times" for i, n in ids.items() if n > 1]
        missing |= mine - ids.keys()
        findings.problems += [f"acknowledged post {i} by {person.name} is missing" for i in sorted(mine - ids.keys())]
        extra = ids.keys() - mine  # posts in flight at the kill that landed (they are retried next)
        if len(extra) > unknown[person.index]:
            findings.problems.append(f"{person.name} has posts nobody was acknowledged for: {sorted(extra)}")
        findings.landed["post"] += len(extra)
        counts = http.get(f"/api/v1/users/{person.name}").json()["counts"]
        if counts["posts"] != len(ids):
            findings.problems.append(f"{person.name}'s profile counts {counts['posts']} posts, the grid has {len(ids)}")
    return posted, missing


def _check_likes(http: httpx.Client, cast: Cast, ledger: Ledger, cycle: int, findings: Findings) -> None:
    """Each acknowledged like shows as liked to its liker and is counted; no like is counted that nobody sent."""
    author_of = {write.result: write.actor for write in ledger.acked("post")}
    sure, maybe = defaultdict(set), defaultdict(set)  # post id -> likers (acknowledged; and in flight)
    for write in ledger.acked("like"):
        sure[write.target].add(write.actor)
    for write in ledger.unknown("like"):
        maybe[write.target].add(write.actor)
    this_cycle = {(w.actor, w.target) for w in ledger.acked("like") if w.cycle == cycle}
    broken = {(w.actor, w.target) for w in ledger.unknown("like") if w.cycle == cycle}
    for viewer in cast.people:
        for author in cast.people:
            grid = {item["id"]: item for item in items(http, f"/api/v1/users/{author.name}/posts", viewer.headers)}
            for post_id, item in grid.items():
                if author_of.get(post_id) != author.index:
                    continue  # a post in flight: liked by no one
                likers, possible = sure[post_id], sure[post_id] | maybe[post_id]
                if viewer is author and not len(likers) <= item["like_count"] <= len(possible):
                    findings.problems.append(f"post {post_id} counts {item['like_count']} likes, sent {len(likers)} (+{len(maybe[post_id])} in flight)")
                if viewer.index in likers and not item["liked"]:
                    findings.problems.append(f"{viewer.name}'s acknowledged like of post {post_id} is missing")
                elif item["liked"] and viewer.index not in possible:
                    findings.problems.append(f"{viewer.name} likes post {post_id} without having sent it")
                findings.present["like"] += (viewer.index, post_id) in this_cycle and item["liked"]
                findings.landed["like"] += (viewer.index, post_id) in broken and item["liked"]


def _check_follows(http: httpx.Client, cast: Cast, ledger: Ledger, cycle: int, findings: Findings) -> None:
    """The last acknowledged follow or unfollow of each pair, on both sides, with counts that agree."""
    following, followers = {}, {}
    for person in cast.people:
        following[person.index] = Counter(item["username"] for item in items(http, f"/api/v1/users/{person.name}/following"))
        followers[person.index] = Counter(item["username"] for item in items(http, f"/api/v1/users/{person.name}/followers"))
        counts = http.get(f"/api/v1/users/{person.name}").json()["counts"]
        if (counts["following"], counts["followers"]) != (len(following[person.index]), len(followers[person.index])):
            findings.problems.append(f"{person.name}'s profile counts {counts}, the lists have "
                                     f"{len(following[person.index])} and {len(followers[person.index])}")
    last, broken = {}, {}  # pair -> the acknowledged write of this cycle that set it; the one in flight
    for write in ledger.acked("follow") + ledger.acked("unfollow"):
        if write.cycle == cycle:
            last[(write.actor, int(write.target))] = write
    for write in ledger.unknown("follow") + ledger.unknown("unfollow"):
        if write.cycle == cycle:
            broken[(write.actor, int(write.target))] = write
    for a in cast.people:
        for b in cast.people:
            if a is b:
                continue
            state = ledger.follows.get((a.index, b.index), False)
            sides = (following[a.index][b.name], followers[b.index][a.name])
            if state is None:
                if (write := broken.get((a.index, b.index))) is not None:
                    findings.landed[write.kind] += sides == ((1, 1) if write.kind == "follow" else (0, 0))
                continue
            if sides != ((1, 1) if state else (0, 0)):
                findings.problems.append(f"{a.name} -> {b.name}: expected {'following' if state else 'not following'}, "
                                         f"found {sides[0]} in {a.name}'s following and {sides[1]} in {b.name}'s followers")
            elif (a.index, b.index) in last:
                findings.present[last[(a.index, b.index)].kind] += 1


def _check_feeds(http: httpx.Client, cast: Cast, ledger: Ledger, posted: dict[str, Write], findings: Findings) -> set[str]:
    """Everyone's home feed: each acknowledged post of everyone they follow (and their own),
    once, newest first; none by someone they do not follow. Returns the posts missing from a feed."""
    missing_somewhere = set()
    for viewer in cast.people:
        feed = [item["id"] for item in items(http, "/api/v1/feed", viewer.headers, order="chronological")]
        shown = Counter(feed)
        findings.problems += [f"post {i} is in {viewer.name}'s feed {n} times" for i, n in shown.items() if n > 1]
        if feed != sorted(feed, key=int, reverse=True):
            findings.problems.append(f"{viewer.name}'s feed is not newest first")
        for post_id, write in posted.items():
            follows = True if write.actor == viewer.index else ledger.follows.get((viewer.index, write.actor), False)
            if follows is None:
                continue  # a follow or unfollow in flight at the kill: either is right
            if follows and post_id in shown:
                findings.fanned_out += write.actor != viewer.index
            elif follows:
                missing_somewhere.add(post_id)
                findings.problems.append(f"post {post_id} by {cast.people[write.actor].name} is not in follower {viewer.name}'s feed")
            elif not follows and post_id in shown:
                findings.problems.append(f"post {post_id} by {cast.people[write.actor].name} is in {viewer.name}'s feed, who does not follow them")
    return missing_somewhere


def _check_comments(http: httpx.Client, cast: Cast, ledger: Ledger, cycle: int, findings: Findings) -> None:
    """Each acknowledged comment under its post once; an in-flight one at most once."""
    by_post = defaultdict(list)
    for write in ledger.acked("comment") + ledger.unknown("comment"):
        by_post[write.target].append(write)
    for post_id, writes in by_post.items():
        listed = items(http, f"/api/v1/posts/{post_id}/comments")
        _count_texts(listed, writes, f"post {post_id}'s comments", cycle, findings)


def _check_messages(http: httpx.Client, cast: Cast, ledger: Ledger, cycle: int, findings: Findings) -> None:
    """Each acknowledged message in its thread once, as both people in it see the thread."""
    by_thread = defaultdict(list)
    for write in ledger.acked("message") + ledger.unknown("message"):
        by_thread[write.target].append(write)
    members = defaultdict(list)
    for index, thread_ids in cast.threads.items():
        for thread_id in thread_ids:
            members[thread_id].append(cast.people[index])
    for thread_id, writes in by_thread.items():
        for n, member in enumerate(members[thread_id]):
            listed = items(http, f"/api/v1/threads/{thread_id}/messages", member.headers)
            # Counted once: as the first member sees it (the second must see the same).
            _count_texts(listed, writes, f"thread {thread_id} as {member.name} sees it", cycle if n == 0 else -1, findings)


def _count_texts(listed: list[dict], writes: list[Write], where: str, cycle: int, findings: Findings) -> None:
    ids, texts = Counter(item["id"] for item in listed), Counter(item["text"] for item in listed)
    findings.problems += [f"{where}: {text!r} is there {n} times" for text, n in texts.items() if n > 1]
    for write in writes:
        if write.acked and ids[write.result] != 1:
            findings.problems.append(f"{where}: acknowledged {write.kind} {write.result} ({write.text!r}) is there {ids[write.result]} times")
        if write.cycle == cycle:
            findings.present[write.kind] += write.acked and ids[write.result] == 1
            findings.landed[write.kind] += not write.acked and texts[write.text] == 1


# -- after a restart -------------------------------------------------------------------------


def settle(http: httpx.Client, cast: Cast, ledger: Ledger, cycle: int, outbox_rows: int, timeout: float) -> Findings:
    """Wait (bounded) until fan-out has finished the rows the kill left, then check until
    everything is there or the time is up; returns the last check's findings."""
    deadline = time.monotonic() + timeout
    while (finished := metric_value(http.get("/metrics").text, "instamini_feed_fanout_lag_seconds_count") or 0) < outbox_rows:
        if time.monotonic() > deadline:
            return Findings([f"fan-out finished {finished:.0f} of the {outbox_rows} outbox rows the kill left within {timeout} s"])
        time.sleep(0.05)  # the server's fan-out worker runs on its own schedule
    while True:
        findings = check_api(http, cast, ledger, cycle)
        if not findings.problems or time.monotonic() > deadline:
            return findings
        time.sleep(0.2)  # an outbox (the second half of a follow) may still be on its way


def retry_in_flight(http: httpx.Client, cast: Cast, ledger: Ledger) -> list[str]:
    """Send again the in-flight writes that are safe to repeat (a post with its idempotency
    key, a like, a follow or unfollow), as a client would; then no author may have a post
    twice, since none is in flight any more. Comments and messages have no idempotency key: they stay "maybe there", at most once."""
    problems = []
    for write in [w for w in ledger.in_flight if w.kind in ("post", "like", "follow", "unfollow")]:
        write.retried = True
        response = send(http, cast, write)
        # A follow or unfollow that had landed answers 409 ("you already follow"): the same state.
        if not response.is_success and not (write.kind in ("follow", "unfollow") and response.status_code == 409):
            problems.append(f"retried {write.kind} by {cast.people[write.actor].name}: {response.status_code} {response.text[:200]}")
            continue
        ledger.ack(write, answer_id(write, response))
    ledger.in_flight = [w for w in ledger.in_flight if not w.retried]
    findings = Findings()
    check_posts(http, cast, ledger, findings)
    return problems + findings.problems

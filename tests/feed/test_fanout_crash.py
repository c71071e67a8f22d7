"""The fan-out worker crashing at every step of a delivery: a fresh worker finishes the
delivery with no timeline entry missing and none twice.

The idea: a delivery is a sequence of steps (read the outbox rows, read a page of
followers, put each follower's entry, save the progress, report the post delivered,
delete the finished rows). A clean run is traced once to list those steps; then, for
each step, two new posts are delivered by a worker that "crashes" there (an exception
raised just before the step, and for the steps that write SQLite also just after the
commit, the two ways a stop can cut a write), and a fresh worker on the same stores,
as after a restart, runs to completion. Every follower's timeline must then hold each
post exactly once, the follower who never built a timeline none, and the outbox must
be empty. Pages of 3 followers put crashes at the start, the middle and the end of a
page list.

Why exceptions in the process rather than a killed process: after an unclean stop the
LMDB cache is wiped (stores/cache.py) and every timeline is rebuilt from SQLite when it
is next read, so nothing of a half-done delivery survives a real kill to be missed or
repeated (tests/reliability/test_crash_loop.py kills the real server). Timelines that
DO survive a cut delivery are those of a round that failed (run_forever goes on with
the next one) or of a clean stop that cancelled the worker at one of its awaits; both
are these exceptions. The last test also restarts the whole app cleanly in between.

Cost: about 50 crash points, each two posts to 13 timelines in one app; a few seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from instamini.feed.fanout import FanoutWorker
from instamini.ids import shard_of
from tests.accounts.helpers import in_app, state_of
from tests.conftest import User, register
from tests.feed.helpers import app_client, feed_config, feed_ids, follow
from tests.posts.helpers import make_post

PAGE = 3  # followers per page: ann's 8 are pages of 3, 3 and 2; bo's 6 are 3, 3 and an empty one
BEFORE, AFTER = "before", "after"


class Crash(Exception):
    """The injected crash."""


class Steps:
    """Lists the points the worker passes, as (step, BEFORE or AFTER), and raises Crash at the chosen one.

    Plain calls are only crashed BEFORE (just after one is just before the next); SQLite
    writes also AFTER their commit, when the change is durable but the worker never learns it."""

    def __init__(self, worker: FanoutWorker, crash_at: int | None = None) -> None:
        self.crash_at, self.points = crash_at, []
        real_meta, real_add, real_delivered = worker.meta, worker.home.add, worker.on_delivered
        steps = self

        class CrashingMeta:
            shard_count = real_meta.shard_count

            async def read(self, shard: int, sql: str, params=()):
                steps.point("read outbox rows" if "feed_outbox" in sql else "read a page of followers", BEFORE)
                return await real_meta.read(shard, sql, params)

            async def write(self, shard: int, job: Callable) -> Any:
                label = "delete finished rows" if "_delete_rows" in job.__code__.co_names else "save progress"
                steps.point(label, BEFORE)
                result = await real_meta.write(shard, job)
                steps.point(label, AFTER)
                return result

        def add(owner, entries, state=None):
            steps.point("put one follower's entry", BEFORE)
            return real_add(owner, entries, state)

        def delivered(post_id: int) -> None:
            steps.point("report the post delivered", BEFORE)
            real_delivered(post_id)

        # Instance attributes: only this worker's calls go through the counting wrappers.
        worker.meta, worker.on_delivered = CrashingMeta(), delivered
        self.home = worker.home
        self.home.add = add

    def point(self, label: str, when: str) -> None:
        self.points.append((label, when))
        if len(self.points) - 1 == self.crash_at:
            raise Crash(f"{when} {label}")

    def unpatch(self) -> None:
        del self.home.add  # back to the class's method; the shared PostLists is the app's


def fresh_worker(client) -> FanoutWorker:
    """A new worker on the app's stores, as the feed module builds one at start."""
    feed = state_of(client).feed
    return FanoutWorker(feed.meta, feed.home, feed.reel_home, batch=feed.settings.fanout_batch,
                        inactive_days=feed.settings.inactive_days)


async def deliver(client, crash_at: int | None) -> list[tuple[str, str]]:
    """Run a worker that crashes at point number `crash_at` (None: never); returns the points it passed."""
    worker = fresh_worker(client)
    steps = Steps(worker, crash_at)
    try:
        await worker.run_until_idle()
    except Crash:
        pass
    finally:
        steps.unpatch()
    assert crash_at is None or len(steps.points) == crash_at + 1, "the delivery ended before the crash point"
    return steps.points


def timeline_counts(client, user: User) -> Counter:
    """How often each post id is in the user's LMDB home timeline (the worker's output, not a merged feed)."""

    async def read() -> list:
        return state_of(client).feed.home.page(int(user.id), 1 << 63, 10_000)

    return Counter(entry.post_id for entry in in_app(client, read))


async def outbox_rows(client, *authors: User) -> list:
    meta = state_of(client).meta
    rows = []
    for shard in sorted({shard_of(int(author.id)) for author in authors}):
        rows += in_app(client, meta.read, shard, "SELECT post_id FROM feed_outbox")
    return rows


class Network:
    """Two authors, followers in pages of 3: ann has 8 (one never reads a feed), bo 6 of the same people."""

    async def build(self, client) -> None:
        self.ann, self.bo = await register(client, "ann"), await register(client, "bo")
        self.fans = [await register(client, f"fan{i}") for i in range(8)]
        self.never_read = self.fans[7]  # no timeline built: skipped, rebuilt when read
        for fan in self.fans[:8]:
            await follow(client, fan, self.ann)
        for fan in self.fans[1:7]:
            await follow(client, fan, self.bo)
        for fan in self.fans[:7]:
            await feed_ids(client, fan)  # built and active: fan-out writes to their timelines
        self.posts: dict[int, User] = {}  # every post delivered so far -> its author

    async def two_posts(self, client) -> None:
        for author in (self.ann, self.bo):
            post = await make_post(client, author)
            self.posts[int(post["id"])] = author

    def problems(self, client) -> list[str]:
        """Every follower's timeline against what it must hold: each of its followees' posts, once."""
        found = []
        for fan in self.fans:
            counts = timeline_counts(client, fan)
            for post_id, author in self.posts.items():
                expected = 0 if fan is self.never_read else int(fan in self._followers(author))
                if counts[post_id] != expected:
                    found.append(f"{fan.username} has post {post_id} by {author.username} {counts[post_id]} times, not {expected}")
        return found

    def _followers(self, author: User) -> list[User]:
        return self.fans[:8] if author is self.ann else self.fans[1:7]


async def test_a_crash_at_any_step_of_a_delivery_is_finished_by_the_next_worker_exactly_once(tmp_path):
    async with app_client(feed_config(tmp_path / "data", fanout_batch=PAGE)) as client:
        network = Network()
        await network.build(client)
        await network.two_posts(client)
        trace = in_app(client, deliver, client, None)
        assert network.problems(client) == [] and await outbox_rows(client, network.ann, network.bo) == []
        labels = Counter(label for label, when in trace if when == BEFORE)
        # One page per post per round, so 3 rounds and a last one that finds nothing, each reading
        # every shard's outbox. ann: pages of 3, 3, 2 (7 entries: fan7 is skipped); bo: 3, 3, 0 (6);
        # progress is saved after each page but the last.
        assert labels == {
            "read outbox rows": 4 * state_of(client).meta.shard_count, "read a page of followers": 6, "put one follower's entry": 13,
            "save progress": 4, "report the post delivered": 2, "delete finished rows": len({
                shard_of(int(network.ann.id)), shard_of(int(network.bo.id))}),
        }, labels

        failures = []
        for number, (label, when) in enumerate(trace):
            await network.two_posts(client)
            in_app(client, deliver, client, number)
            in_app(client, fresh_worker(client).run_until_idle)  # as after a restart: nothing carried over
            where = f"crash {when} {label} (point {number})"
            failures += [f"{where}: {problem}" for problem in network.problems(client)]
            left = await outbox_rows(client, network.ann, network.bo)
            failures += [f"{where}: outbox rows left {left}"] if left else []
        assert failures == [], "\n".join(failures)
        assert len(network.posts) == 2 * (1 + len(trace))


async def test_a_crash_mid_page_then_a_clean_restart_delivers_exactly_once(tmp_path):
    config = feed_config(tmp_path / "data", fanout_batch=PAGE)
    async with app_client(config) as client:
        network = Network()
        await network.build(client)
        await network.two_posts(client)
        trace = in_app(client, deliver, client, None)
        entries = [number for number, (label, _) in enumerate(trace) if label == "put one follower's entry"]
        await network.two_posts(client)
        in_app(client, deliver, client, entries[4])  # ann's second page, after its first entry
        assert await outbox_rows(client, network.ann, network.bo) != []
    async with app_client(config) as client:  # a new process's state: the cache reopened from disk, a new worker
        assert state_of(client).cache.wiped_on_open is False
        in_app(client, state_of(client).feed.fanout.run_until_idle)
        assert network.problems(client) == []
        assert await outbox_rows(client, network.ann, network.bo) == []

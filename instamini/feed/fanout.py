"""The fan-out worker: delivers each new post into its author's followers' timelines.

The idea (fan-out on write): pay at write time so that reading a feed is one short
scan. A post's outbox row (written with the post, see migrations.py) is taken by
this worker, which reads the author's followers a page at a time from the
author's shard (`edges`, newest edge ids first does not matter: by edge id) and
puts one timeline entry per active follower into LMDB. After each page the
progress is saved, so a stop resumes where it was; the row is deleted when the
last page is done, and the time from the post's creation to then is the fan-out
lag, the figure to watch.

The author's own posts are not delivered to the author: every strategy pulls the
viewer's own list at read time. Followers whose timeline is not built, or who have not read it for
`inactive_days`, are skipped: their timeline is rebuilt from the source when
they come back, so writing to it now would be wasted work.

Cost: per post, one query per `fanout_batch` followers, one LMDB put (and a state
update) per active follower, one small SQLite write per page.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable

import anyio

from ..stores.meta import ShardedMeta
from .sources import is_active
from .timelines import Entry, PostLists, now_ms

log = logging.getLogger(__name__)

# Upper bounds (seconds) of the lag histogram's buckets; Prometheus adds +Inf.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Outbox rows taken per shard per round: enough to keep busy, few enough to stay fair.
ROWS_PER_ROUND = 64


class LagHistogram:
    """Cumulative bucket counts of fan-out lag, exported as a Prometheus histogram."""

    def __init__(self) -> None:
        self.counts = [0] * (len(LAG_BUCKETS) + 1)
        self.total = 0.0
        self.observations = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LAG_BUCKETS, seconds)] += 1
        self.total += seconds
        self.observations += 1

    def buckets(self) -> list[tuple[str, int]]:
        running, out = 0, []
        for bound, count in zip([*map(str, LAG_BUCKETS), "+Inf"], self.counts):
            running += count
            out.append((bound, running))
        return out


class FanoutWorker:
    def __init__(
        self, meta: ShardedMeta, home: PostLists, reels: PostLists, *, batch: int, inactive_days: int,
        on_delivered: Callable[[int], None] = lambda post_id: None,
    ) -> None:
        self.meta, self.home, self.reels = meta, home, reels
        self.batch, self.inactive_ms = batch, inactive_days * 86_400_000
        self.on_delivered = on_delivered
        self.lag = LagHistogram()
        self.delivered = self.skipped = 0
        self.depth = 0  # outbox rows waiting, as of the last count (refreshed about once a second)
        self._wakeup = anyio.Event()

    def wake(self) -> None:
        self._wakeup.set()
        self._wakeup = anyio.Event()

    async def run_once(self) -> int:
        """One round: a page of deliveries for each waiting post. Returns how many posts it
        worked on (0: nothing waits)."""
        worked = 0
        for shard in range(self.meta.shard_count):
            rows = await self.meta.read(
                shard,
                "SELECT post_id, author_id, kind, created_ms, progress FROM feed_outbox ORDER BY post_id LIMIT ?",
                (ROWS_PER_ROUND,),
            )
            done = [row["post_id"] for row in rows if await self._deliver_page(shard, row)]
            if done:
                await self.meta.write(shard, lambda conn, ids=done: _delete_rows(conn, ids))
            worked += len(rows)
        return worked

    async def run_until_idle(self) -> int:
        """Rounds until the outbox is empty (tests); returns how many rounds it took."""
        rounds = 0
        while await self.run_once():
            rounds += 1
        return rounds

    async def count_waiting(self) -> int:
        counts = [await self.meta.read_one(shard, "SELECT count(*) FROM feed_outbox") for shard in range(self.meta.shard_count)]
        self.depth = sum(row[0] for row in counts)
        return self.depth

    async def _deliver_page(self, shard: int, row) -> bool:
        """Deliver one page of followers; True when the post has reached all of them."""
        entry = Entry(row["post_id"], row["author_id"], row["kind"])
        followers = await self.meta.read(
            shard,
            "SELECT dst, id FROM edges WHERE src = ? AND kind = 'follower' AND id > ? ORDER BY id LIMIT ?",
            (entry.author_id, row["progress"], self.batch),
        )
        stamp = now_ms()
        ids = [f["dst"] for f in followers]
        timelines = (self.home, self.reels) if entry.kind == "reel" else (self.home,)
        for timeline in timelines:
            for follower, state in zip(ids, timeline.states_of(ids)):
                self._deliver(timeline, follower, entry, state, stamp)
        if len(followers) == self.batch:
            progress = followers[-1]["id"]
            await self.meta.write(
                shard, lambda conn: conn.execute("UPDATE feed_outbox SET progress = ? WHERE post_id = ?", (progress, entry.post_id))
            )
            return False
        self.lag.observe(max(0, now_ms() - row["created_ms"]) / 1000)
        self.on_delivered(entry.post_id)
        return True

    def _deliver(self, timeline: PostLists, user_id: int, entry: Entry, state, stamp: int) -> None:
        if not is_active(state, self.inactive_ms, stamp):
            self.skipped += 1
            return
        timeline.add(user_id, [entry], state)
        self.delivered += 1

    async def run_forever(self) -> None:
        counted_at = 0.0
        while True:
            wakeup = self._wakeup  # taken before looking, so a wake meanwhile is not missed
            try:
                if anyio.current_time() - counted_at > 1.0:
                    await self.count_waiting()
                    counted_at = anyio.current_time()
                worked = await self.run_once()
            except Exception:  # a failing round must not end fan-out; the rows stay for the next
                log.exception("fan-out round failed")
                worked = 0
                await anyio.sleep(1.0)  # and must not spin on a persistent failure
            if not worked:
                # Wake on a new post, and look again now and then for rows a restart left.
                with anyio.move_on_after(1.0):
                    await wakeup.wait()


def _delete_rows(conn, post_ids: list[int]) -> None:
    conn.executemany("DELETE FROM feed_outbox WHERE post_id = ?", [(i,) for i in post_ids])

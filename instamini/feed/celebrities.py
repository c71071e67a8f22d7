"""Who counts as a celebrity under the hybrid strategy: one set that writers and readers share.

The idea: hybrid pushes posts by ordinary authors and lets readers pull the few
authors with more than `celebrity_threshold` followers. A post must then be either
pushed or pulled, never neither, so the writer (deciding not to queue a fan-out)
and the reader (deciding to pull) consult the same set, held in memory. It is
loaded from the follower counters at start and rechecked for both people after
every follow change. To keep an author near the line from flapping, one joins above
the threshold and leaves only below 90% of it. When an author leaves, their
followers' timelines lack the posts that were pulled instead of pushed, so those
timelines are marked for a rebuild.

Cost: a set lookup per post written and per followee read; a counter read per
follow change; a scan of the `followers` counters per shard at start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..ids import group_by_shard
from ..stores.counters import Counters
from ..stores.meta import ShardedMeta

LEAVE_BELOW = 0.9


class Celebrities:
    def __init__(
        self, meta: ShardedMeta, counters: Counters, threshold: int, on_leave: Callable[[int], Awaitable[None]]
    ) -> None:
        self.meta, self.counters, self.threshold, self.on_leave = meta, counters, threshold, on_leave
        self.ids: frozenset[int] = frozenset()  # replaced whole, so the writer thread reads a consistent set
        self._tasks: set[asyncio.Task] = set()

    def __contains__(self, user_id: int) -> bool:
        return user_id in self.ids

    async def load(self) -> None:
        found: set[int] = set()
        for shard in range(self.meta.shard_count):
            rows = await self.meta.read(
                shard, "SELECT object_id FROM counters WHERE name = 'followers' AND value > ?", (self.threshold,)
            )
            found.update(row[0] for row in rows)
        self.ids = frozenset(found)

    def recheck_soon(self, *user_ids: int) -> None:
        """Called right after a follow change commits (no await there): recheck in a task."""
        task = asyncio.get_running_loop().create_task(self.recheck(*user_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recheck(self, *user_ids: int) -> None:
        # Straight from SQLite, not through the counters cache: this runs beside the very
        # writes that change these counts, and must not put a value read mid-change there.
        rows = await self.meta.read_by_shard(
            "SELECT object_id, value FROM counters WHERE name = 'followers' AND object_id IN ({ids})", group_by_shard(user_ids)
        )
        counts = {row[0]: row[1] for row in rows}
        for user_id in user_ids:
            followers = counts.get(user_id, 0)
            if user_id not in self.ids and followers > self.threshold:
                self.ids = self.ids | {user_id}
            elif user_id in self.ids and followers < self.threshold * LEAVE_BELOW:
                self.ids = self.ids - {user_id}
                await self.on_leave(user_id)

    async def settle(self) -> None:
        """Wait for the rechecks under way (tests, and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

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

In a cluster the set is kept per owner: each instance decides for the authors of
its own shards (`own`: their counters and their posts' outbox rows are there) and
sends that set to every other instance, getting theirs back (`elsewhere`); readers
pull whoever is in the union (`ids`). Writer and reader are then on different
instances, so the rule "never neither" is kept by ordering: an author who joins is
pulled by readers everywhere before the writer stops pushing them (`agreed` holds
only those every other instance has acknowledged; until then their posts are pushed
AND pulled, which a read merges away), and one who leaves is pushed again at once,
told to the others, and only then are their followers' timelines marked for rebuild.
An instance that cannot be reached is retried every few seconds; it is also the
instance that could not show those authors' posts meanwhile. Known gap: an instance
down while an author left keeps that author's pulled-era posts out of the
timelines it rebuilt before; they return with its next rebuild.

Cost: a set lookup per post written and per followee read; a counter read per
follow change; a scan of the `followers` counters per local shard at start; in a
cluster, one RPC per other instance at start and when the set changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import anyio
import msgspec

from ..cluster import RpcError
from ..ids import group_by_shard
from ..stores.counters import Counters
from ..stores.meta import ShardedMeta
from ..cluster.forward import local_shards

log = logging.getLogger(__name__)
LEAVE_BELOW = 0.9
EXCHANGE = "feed.celebrities"
RETRY_SECONDS = 5.0


class Shared(msgspec.Struct, array_like=True):
    """An instance's own celebrities, as it sends them to the others."""

    instance: str
    ids: list[int]


class Celebrities:
    def __init__(
        self, meta: ShardedMeta, counters: Counters, threshold: int, on_leave: Callable[[int], Awaitable[None]]
    ) -> None:
        self.meta, self.counters, self.threshold, self.on_leave = meta, counters, threshold, on_leave
        # Each replaced whole, so the writer thread reads a consistent set.
        self.own: frozenset[int] = frozenset()  # decided here: the authors of this instance's shards
        self.agreed: frozenset[int] = frozenset()  # those of `own` every instance pulls: writers skip them
        self.ids: frozenset[int] = frozenset()  # own and every other instance's: readers pull them
        self.elsewhere: dict[str, frozenset[int]] = {}
        self.cluster = None
        self._unshared: set[str] = set()  # instances that lack the current `own`
        self._version = 0  # of `own`: an exchange answered for an older one acknowledges nothing
        self._tasks: set[asyncio.Task] = set()

    def __contains__(self, user_id: int) -> bool:
        return user_id in self.ids

    def join(self, node) -> None:
        """Decide for the local shards only, and exchange sets with the other instances."""
        self.cluster = node

        async def exchange(shared: Shared) -> list[int]:
            self.elsewhere[shared.instance] = frozenset(shared.ids)
            self._union()
            return sorted(self.own)

        node.procedures.register(EXCHANGE, exchange)

    def _shards(self) -> range | tuple[int, ...]:
        return local_shards(self)

    def _set_own(self, own: frozenset[int]) -> None:
        self.own, self._version = own, self._version + 1
        if self.cluster is None:
            self.agreed = own
        else:  # a leaver is pushed again at once; a joiner only once every instance pulls them
            self.agreed &= own
            self._unshared = {name for name in self.cluster.topology.names if name != self.cluster.topology.local}
        self._union()

    def _union(self) -> None:
        self.ids = self.own.union(*self.elsewhere.values())

    async def load(self) -> None:
        found: set[int] = set()
        for shard in self._shards():
            rows = await self.meta.read(
                shard, "SELECT object_id FROM counters WHERE name = 'followers' AND value > ?", (self.threshold,)
            )
            found.update(row[0] for row in rows)
        self._set_own(frozenset(found))

    async def share(self) -> bool:
        """Send `own` to each instance that lacks it, taking theirs back; True once all have it."""
        if self.cluster is None or not self._unshared:
            return True
        from ..cluster.rpc_client import RpcCall  # the HTTP half, loaded only by a cluster

        version, sent, names = self._version, self.own, sorted(self._unshared)
        mine = Shared(self.cluster.topology.local, sorted(sent))
        results = await self.cluster.client.fan_out(
            [(name, RpcCall(EXCHANGE, mine, list[int])) for name in names], idempotent=True, return_errors=True
        )
        for name, result in zip(names, results):
            if isinstance(result, RpcError):
                log.info("celebrities not yet shared with instance %s: %s", name, result)
                continue
            self.elsewhere[name] = frozenset(result)
            if version == self._version:
                self._unshared.discard(name)
        if version == self._version and not self._unshared:
            self.agreed = sent
        self._union()
        return version == self._version and not self._unshared

    async def run_forever(self) -> None:
        """Retry the instances that have not acknowledged the current set (a cluster only)."""
        while True:
            await anyio.sleep(RETRY_SECONDS)
            try:
                await self.share()
            except Exception:  # a bug here must not end the retries
                log.exception("sharing the celebrity set failed")

    def recheck_soon(self, *user_ids: int) -> None:
        """Called right after a follow change commits (no await there): recheck in a task."""
        task = asyncio.get_running_loop().create_task(self.recheck(*user_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recheck(self, *user_ids: int) -> None:
        """Recheck these users, all of this instance's shards (their counters are here)."""
        # Straight from SQLite, not through the counters cache: this runs beside the very
        # writes that change these counts, and must not put a value read mid-change there.
        rows = await self.meta.read_by_shard(
            "SELECT object_id, value FROM counters WHERE name = 'followers' AND object_id IN ({ids})", group_by_shard(user_ids)
        )
        counts = {row[0]: row[1] for row in rows}
        for user_id in user_ids:
            followers = counts.get(user_id, 0)
            if user_id not in self.own and followers > self.threshold:
                self._set_own(self.own | {user_id})
                await self.share()
            elif user_id in self.own and followers < self.threshold * LEAVE_BELOW:
                self._set_own(self.own - {user_id})
                await self.share()  # the others stop pulling them before their timelines are rebuilt
                await self.on_leave(user_id)

    async def settle(self) -> None:
        """Wait for the rechecks under way (tests, and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

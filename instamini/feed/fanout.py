"""The fan-out worker: delivers each new post into its author's followers' timelines.

The idea (fan-out on write): pay at write time so that reading a feed is one short
scan. A post's outbox row (written with the post, see migrations.py) is taken by
this worker, which reads the author's followers a page at a time from the
author's shard (by edge id) and puts one timeline entry per active follower into
LMDB. After each page the progress is saved, so a stop resumes where it was; the
row is deleted when the last page is done, and the time from the post's creation
to then is the fan-out lag, the figure to watch.

In a cluster (docs/cluster.md) the row is on the author's shard, so the author's
owner runs it (a worker reads only the outboxes of the shards its instance owns),
but a timeline lives with its follower. Each page of followers is grouped by their
owner: this instance's are written here, and every other owner gets ONE idempotent
`feed.deliver` call with its share, all at once (a retry writes the same keys). An
owner that cannot be reached does not hold the others up: it is noted in the row's
`lagging` column with the page it missed, and later rounds (about one a second)
retry it from there, on a cursor of its own, until it answers and catches up; the
owners that were reached are not delivered to again. The row, and the lag it
measures, end when the last owner has the post.

The author's own posts are not delivered to the author: every strategy pulls the
viewer's own list at read time. Followers whose timeline is not built, or who have
not read it for `inactive_days`, are skipped (by the instance that holds the
timeline): their timeline is rebuilt from the source when they come back, so
writing to it now would be wasted work.

Cost: per post, one query per `fanout_batch` followers, one LMDB put (and a state
update) per active follower, one small SQLite write per page; in a cluster, one RPC
per page per other owner with followers in it, and one failed attempt per round for
an owner that is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import anyio
import msgspec

from ..cluster import RpcError
from ..cluster.forward import local_shards
from ..histogram import Histogram
from ..ids import shard_of
from ..stores.meta import ShardedMeta
from .sources import is_active
from .timelines import Entry, PostLists, now_ms

log = logging.getLogger(__name__)

# Upper bounds (seconds) of the lag histogram's buckets; Prometheus adds +Inf.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Outbox rows taken per shard per round: enough to keep busy, few enough to stay fair.
ROWS_PER_ROUND = 64
DELIVER = "feed.deliver"
# `progress` once the shared pass has reached the last follower: the row stays only
# for the owners in `lagging`.
DONE = -1
COLUMNS = "post_id, author_id, kind, created_ms, progress, lagging"
_decode_lagging = msgspec.json.Decoder(dict[str, int]).decode


def _encode_lagging(lagging: dict[str, int]) -> str:
    return msgspec.json.encode(lagging).decode()


class Delivery(msgspec.Struct, array_like=True):
    """One page of a post's followers who live on the instance called."""

    post_id: int
    author_id: int
    kind: str
    follower_ids: list[int]


class FanoutWorker:
    def __init__(
        self, meta: ShardedMeta, home: PostLists, reels: PostLists, *, batch: int, inactive_days: int,
        on_delivered: Callable[[int], None] = lambda post_id: None,
    ) -> None:
        self.meta, self.home, self.reels = meta, home, reels
        self.batch, self.inactive_ms = batch, inactive_days * 86_400_000
        self.on_delivered = on_delivered
        self.lag = Histogram(LAG_BUCKETS)  # seconds from a post's commit to its last delivery
        self.delivered = self.skipped = 0  # entries written (or skipped) in THIS instance's timelines
        self.depth = 0  # outbox rows waiting, as of the last count (refreshed about once a second)
        self.cluster = None  # the ClusterNode, once `join` ran: then other owners' followers go by RPC
        self.unreachable: set[str] = set()  # owners whose last delivery failed
        self._wakeup = anyio.Event()

    def join(self, node) -> None:
        """Work on this instance's shards only, and take deliveries from the other owners' workers."""
        self.cluster = node

        async def deliver(delivery: Delivery) -> int:
            entry = Entry(delivery.post_id, delivery.author_id, delivery.kind)
            return self.receive(entry, delivery.follower_ids)

        node.procedures.register(DELIVER, deliver)

    def wake(self) -> None:
        self._wakeup.set()
        self._wakeup = anyio.Event()

    def _shards(self) -> Iterable[int]:
        return local_shards(self)

    async def run_once(self) -> int:
        """One round: a page of deliveries for each waiting post, to each owner due one.
        Returns how many posts moved on (0: nothing waits, or only for unreachable owners)."""
        moved = 0
        down: set[str] = set()  # owners that failed this round: not tried again before the next
        for shard in self._shards():
            rows = await self.meta.read(
                shard, f"SELECT {COLUMNS} FROM feed_outbox WHERE progress >= 0 ORDER BY post_id LIMIT ?", (ROWS_PER_ROUND,)
            )
            if self.cluster is not None:
                rows += await self._lagging_rows(shard)
            done = []
            for row in rows:
                advanced, finished = await self._advance(shard, row, down)
                moved += advanced
                if finished:
                    done.append(row["post_id"])
            if done:
                await self.meta.write(shard, lambda conn, ids=done: _delete_rows(conn, ids))
        return moved

    async def _lagging_rows(self, shard: int) -> list:
        """Rows left only for lagging owners, read apart so that they never crowd out new posts:
        those an owner not known to be down needs, then one per known-down owner to probe it
        (so an owner down for long holds up neither new posts nor the owners that are back)."""
        known_down = sorted(self.unreachable)
        marks = ",".join("?" * len(known_down))
        rows = await self.meta.read(
            shard,
            f"SELECT {COLUMNS} FROM feed_outbox WHERE progress < 0 AND EXISTS "
            f"(SELECT 1 FROM json_each(lagging) WHERE key NOT IN ({marks})) ORDER BY post_id LIMIT ?",
            (*known_down, ROWS_PER_ROUND),
        )
        seen = {row["post_id"] for row in rows}
        for owner in known_down:
            probe = await self.meta.read_one(
                shard,
                f"SELECT {COLUMNS} FROM feed_outbox WHERE progress < 0 AND json_extract(lagging, ?) IS NOT NULL "
                "ORDER BY post_id LIMIT 1",
                (f'$."{owner}"',),
            )
            if probe is not None and probe["post_id"] not in seen:
                rows.append(probe)
                seen.add(probe["post_id"])
        return rows

    async def run_until_idle(self) -> int:
        """Rounds until nothing can move (tests); returns how many rounds it took."""
        rounds = 0
        while await self.run_once():
            rounds += 1
        return rounds

    async def count_waiting(self) -> int:
        counts = [await self.meta.read_one(shard, "SELECT count(*) FROM feed_outbox") for shard in self._shards()]
        self.depth = sum(row[0] for row in counts)
        return self.depth

    async def _advance(self, shard: int, row, down: set[str]) -> tuple[bool, bool]:
        """The next page for the owners in step, then for each lagging owner on its own cursor;
        saves the progress. Returns (moved on, reached every follower)."""
        entry = Entry(row["post_id"], row["author_id"], row["kind"])
        progress, lagging = row["progress"], _decode_lagging(row["lagging"])
        before = (progress, dict(lagging))
        if progress != DONE:
            followers, more = await self._followers(shard, entry.author_id, progress)
            for owner in await self._deliver_page(entry, followers, down, skip=lagging):
                lagging[owner] = progress  # it missed this page: it catches up on a cursor of its own
            progress = followers[-1][1] if more else DONE
        for owner, cursor in list(lagging.items()):
            if owner in down:
                continue
            followers, more = await self._followers(shard, entry.author_id, cursor)
            if await self._deliver_page(entry, followers, down, only=owner):
                continue
            last = followers[-1][1] if followers else cursor
            if not more or (progress != DONE and last >= progress):
                del lagging[owner]  # caught up: the shared pass, if still going, takes it along again
            else:
                lagging[owner] = last
        finished = progress == DONE and not lagging
        if finished:
            self.lag.observe(max(0, now_ms() - row["created_ms"]) / 1000)
            self.on_delivered(entry.post_id)
        elif (progress, lagging) != before:
            await self.meta.write(shard, lambda conn: conn.execute(
                "UPDATE feed_outbox SET progress = ?, lagging = ? WHERE post_id = ?",
                (progress, _encode_lagging(lagging), entry.post_id),
            ))
        return finished or (progress, lagging) != before, finished

    async def _followers(self, shard: int, author_id: int, after: int) -> tuple[list[tuple[int, int]], bool]:
        """A page of (follower, edge id) after edge `after`, and whether more may follow."""
        rows = await self.meta.read(
            shard,
            "SELECT dst, id FROM edges WHERE src = ? AND kind = 'follower' AND id > ? ORDER BY id LIMIT ?",
            (author_id, after, self.batch),
        )
        return [(row["dst"], row["id"]) for row in rows], len(rows) == self.batch

    async def _deliver_page(
        self, entry: Entry, followers: list[tuple[int, int]], down: set[str], *,
        skip: Iterable[str] = (), only: str | None = None,
    ) -> set[str]:
        """Deliver the page to its followers' owners (all, but `skip`; or `only` one); returns
        the owners it could not reach."""
        ids = [follower for follower, _ in followers]
        if self.cluster is None:
            self.receive(entry, ids)
            return set()
        topology, by_owner = self.cluster.topology, {}
        for follower in ids:
            owner = topology.owner_of(shard_of(follower))
            if owner not in skip and only in (None, owner):
                by_owner.setdefault(owner, []).append(follower)
        mine = by_owner.pop(topology.local, None)
        if mine:
            self.receive(entry, mine)
        failed = {owner for owner in by_owner if owner in down}
        calls = [(owner, part) for owner, part in by_owner.items() if owner not in down]
        if calls:
            failed |= await self._send(entry, calls, down)
        return failed

    async def _send(self, entry: Entry, calls: list[tuple[str, list[int]]], down: set[str]) -> set[str]:
        from ..cluster.rpc_client import RpcCall  # the HTTP half, loaded only by a cluster

        results = await self.cluster.client.fan_out(
            [(owner, RpcCall(DELIVER, Delivery(*entry, part), int)) for owner, part in calls],
            idempotent=True, return_errors=True,  # a repeat writes the same timeline keys
        )
        failed = set()
        for (owner, _), result in zip(calls, results):
            if isinstance(result, RpcError):
                failed.add(owner)
                if owner not in self.unreachable:  # one line when it goes, one when it is back
                    log.warning("fan-out to instance %s waits until it answers: %s", owner, result)
                self.unreachable.add(owner)
            elif owner in self.unreachable:
                self.unreachable.discard(owner)
                log.info("fan-out to instance %s resumed", owner)
        down |= failed
        return failed

    def receive(self, entry: Entry, follower_ids: list[int]) -> int:
        """Write the entry into these followers' timelines (all held here); returns how many took it."""
        stamp, before = now_ms(), self.delivered
        timelines = (self.home, self.reels) if entry.kind == "reel" else (self.home,)
        for timeline in timelines:
            for follower, state in zip(follower_ids, timeline.states_of(follower_ids)):
                self._deliver(timeline, follower, entry, state, stamp)
        return self.delivered - before

    def _deliver(self, timeline: PostLists, user_id: int, entry: Entry, state, stamp: int) -> None:
        # A timeline being rebuilt takes it whatever its state: the rebuild may have read too early.
        if not is_active(state, self.inactive_ms, stamp) and not timeline.is_rebuilding(user_id):
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
                # Wake on a new post, and look again now and then for rows a restart left
                # or an unreachable owner still waits for.
                with anyio.move_on_after(1.0):
                    await wakeup.wait()


def _delete_rows(conn, post_ids: list[int]) -> None:
    conn.executemany("DELETE FROM feed_outbox WHERE post_id = ?", [(i,) for i in post_ids])

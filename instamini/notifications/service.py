"""Notifications: made from events after the response, stored per recipient, pushed live.

The idea: notifying is never part of the action that causes it. A like commits and
answers; its event reaches this module's listener, which only puts it on a queue
(it cannot fail, and it never waits). One worker takes what has queued up, in
order, turns each event into changes (rules.py), and hands all their write jobs to
the shards at once, so a burst of likes costs a few group commits instead of one
per like, while the changes of one shard still commit in the order of their
events (an unlike is never applied before its like). After the commits it keeps
the cached badge exact and pushes each new or regrouped notification, with the
badge, to the recipient's open sockets through the realtime hub.

Events live in memory: a crash loses the notifications of the last moments (the
likes and follows themselves are safe in their own tables). That is the trade:
nothing is written in the action's own transaction, so notifying never slows it.

In a cluster an event fires on the instance that ran the action, and its recipients
may be anyone's: the worker groups a round's writes by the owner of their shard and
sends each other owner ONE call with its share, in event order (`apply_jobs`), which
commits them there, keeps that owner's cached badge exact and pushes from there (the
hub forwards the frame to every instance's sockets). The list, the badge and marking
read run on the recipient's owner. A round whose call fails (that owner is down) is
logged and lost, as in a crash.

Cost: per event, a few LMDB lookups and its share of a group commit; a page of the
list is one indexed query plus the users cache; the badge is one LMDB lookup. In a
cluster, one round trip per other owner per round of writes, and one for a list, a
badge or a mark-read of someone another instance owns; and every new or regrouped
notification is pushed, whether or not its recipient is online (no instance knows
which sockets the others hold), so the hub forwards it to every instance.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..cluster.forward import owned
from ..config import NotificationsConfig
from ..errors import InvalidInput
from ..graph.service import GraphService
from ..ids import IdGenerator, parse_id, shard_of
from ..posts.service import NEWEST, PostsService, decode_cursor
from ..realtime import frames
from ..realtime.hub import Hub
from ..stores.counters import Counters
from ..stores.meta import ShardedMeta
from . import store
from .rules import Rules
from .store import COLUMNS, UNREAD, Change, Context, Job, Outcome, Row, row_of
from .views import notification_out

log = logging.getLogger(__name__)
MAX_BATCH = 256  # events turned into one round of writes
FLUSH = "notifications.flush"  # an internal event: see settle()


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class NotificationPage(msgspec.Struct):
    rows: list[Row]
    users: dict[int, UserRecord]
    next_cursor: str | None
    unread: int


class NotificationsService:
    def __init__(
        self,
        meta: ShardedMeta,
        ids: IdGenerator,
        accounts: AccountsService,
        graph: GraphService,
        posts: PostsService,
        counters: Counters,
        config: NotificationsConfig,
        emit: Callable[..., None],
        find_hub: Callable[[], Hub | None],
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.meta, self.ids, self.accounts, self.counters = meta, ids, accounts, counters
        self.emit, self.find_hub = emit, find_hub
        self.clock = clock  # milliseconds; tests move it to cross the grouping window
        self.window_ms = config.group_window_hours * 3600 * 1000
        self.rules = Rules(graph, posts)
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.processed = self.failed = self.pushed = 0
        self.cluster = None  # in a cluster, each recipient's notifications are written and read by their owner

    # -- events in ---------------------------------------------------------------------------

    def submit(self, event: str, payload: dict[str, Any]) -> None:
        """What the listeners call: queue the event (unbounded; never waits, never fails)."""
        self._queue.put_nowait((event, payload))

    async def run_forever(self) -> None:
        while True:
            await self.run_once()

    async def run_once(self) -> int:
        """Wait for events, then handle all those queued (up to MAX_BATCH); returns how many."""
        batch = [await self._queue.get()]
        while len(batch) < MAX_BATCH and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        try:
            await self._handle(batch)
        finally:
            for _ in batch:
                self._queue.task_done()
        return len(batch)

    async def settle(self) -> None:
        """Wait until every event emitted so far is handled (tests; never sleeps).

        Litestar's emitter starts listeners as tasks in the order of their events; a
        FLUSH event emitted now is therefore heard after the listeners of every
        earlier event have queued their work, and then the queue only has to drain.
        """
        heard = asyncio.get_running_loop().create_future()
        self.emit(FLUSH, heard=heard)
        await heard
        await self._queue.join()

    async def drain(self) -> None:
        """Handle what is queued (at shutdown, while the stores are still open)."""
        await self._queue.join()

    async def _handle(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        changes: list[Change] = []
        for event, payload in batch:
            try:
                changes += await self.rules.changes(event, payload)
            except Exception:
                self.failed += 1
                log.exception("notifications: could not handle %s %s", event, payload)
        jobs = [Job(shard, change) for change in changes for shard in change.shards(self.meta.shard_count)]
        shares = self._by_owner(jobs)
        outcomes = await asyncio.gather(*(self.apply_jobs(share) for share in shares), return_exceptions=True)
        for share, outcome in zip(shares, outcomes):
            if isinstance(outcome, BaseException):
                self.failed += len(share)
                log.error("notifications: %d writes for another instance were lost", len(share), exc_info=outcome)
        self.processed += len(batch)

    def _by_owner(self, jobs: list[Job]) -> list[list[Job]]:
        """The jobs in one share per instance that owns some of their shards, each in order."""
        if self.cluster is None:
            return [jobs] if jobs else []
        shares: dict[str, list[Job]] = {}
        for job in jobs:
            shares.setdefault(self.cluster.topology.owner_of(job.shard), []).append(job)
        return list(shares.values())

    # All the jobs are one owner's (see _by_owner): the first one's shard names it.
    @owned(lambda self, jobs: jobs[0].shard)
    async def apply_jobs(self, jobs: list[Job]) -> int:
        """Commit the jobs, then keep the badge and push; returns how many committed."""
        context = Context(self.ids.next_id, self.clock, self.window_ms)
        writes = [self.meta.write(job.shard, functools.partial(job.change.apply, context=context)) for job in jobs]
        # gather starts the writes in this order and each shard's writer queue is FIFO,
        # so the changes of one shard commit in the order of their events.
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
        for outcome in outcomes:
            await self._after(outcome)
        return sum(not isinstance(outcome, BaseException) for outcome in outcomes)

    async def _after(self, outcome: Outcome | BaseException) -> None:
        if isinstance(outcome, BaseException):
            self.failed += 1
            log.error("notifications: a write failed", exc_info=outcome)
            return
        try:
            self._remember_unread(outcome.unread)
            if outcome.row is not None:
                await self._push(outcome.row, outcome.unread[outcome.row.user_id])
        except Exception:
            self.failed += 1
            log.exception("notifications: could not finish after a commit")

    # -- the badge ---------------------------------------------------------------------------

    def _remember_unread(self, unread: dict[int, int]) -> None:
        # Updated in place rather than invalidated: the entry also holds the user's
        # follower and post counts, which every profile view reads.
        for user_id, count in unread.items():
            cached = self.counters.table.get(user_id)
            if cached is not None:
                self.counters.table.put(user_id, {**cached, UNREAD: count})
            else:
                # No entry, but a load may be under way that read SQLite before this
                # commit: the delete moves the table's generation, so it will not fill.
                self.counters.invalidate(user_id)

    async def unread(self, user_id: int) -> int:
        # The counters forward to the user's owner, whose cache holds their badge.
        return (await self.counters.get(user_id)).get(UNREAD, 0)

    @owned(lambda self, user_id, cursor: shard_of(user_id))
    async def mark_read(self, user_id: int, cursor: str) -> int:
        """Mark read everything at or below a list position; returns the unread count."""
        up_to = parse_id(cursor)
        if up_to is None:
            raise InvalidInput("cursor is not one this server gave out")
        count = await self.meta.write(shard_of(user_id), lambda conn: store.mark_read(conn, user_id, up_to))
        self._remember_unread({user_id: count})
        return count

    # -- the list ----------------------------------------------------------------------------

    @owned(lambda self, user_id, *_: shard_of(user_id))
    async def page(self, user_id: int, cursor: str | None, limit: int) -> NotificationPage:
        """The user's notifications, most recently changed first."""
        before = decode_cursor(cursor, NEWEST)
        found = await self.meta.read(
            shard_of(user_id),
            f"SELECT {COLUMNS} FROM notifications WHERE user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (user_id, before, limit + 1),
        )
        rows = [row_of(row) for row in found[:limit]]
        users = await self.accounts.get_users({actor for row in rows for actor in row.actor_ids})
        next_cursor = str(rows[-1].seq) if len(found) > limit else None
        return NotificationPage(rows, users, next_cursor, await self.unread(user_id))

    # -- live --------------------------------------------------------------------------------

    async def _push(self, row: Row, unread: int) -> None:
        hub = self.find_hub()
        # Nobody to tell now: the list and the badge have it. In a cluster the sockets may
        # be another instance's, which this one does not know of: always push.
        if hub is None or self.cluster is None and not hub.connections(row.user_id):
            return
        users = await self.accounts.get_users(row.actor_ids)
        out = msgspec.to_builtins(notification_out(row, users))
        self.pushed += hub.publish([row.user_id], frames.encode("notification", notification=out, unread=unread))


"""The follow graph: follow, requests for private accounts, block, and the lists.

A change between users A and B is written on A's shard first, together with an
outbox row holding B's half; then B's half is applied on B's shard and the
outbox row is deleted. If the process dies in between, `replay_outbox()` at the
next start finishes the job (applying a half twice is harmless, see edges.py).
When A and B share a shard, both halves go in one transaction.

Changes on one pair of users are serialized by a lock per pair, so two racing
requests (follow and unfollow, or a block meanwhile) cannot interleave their
halves; with one writer per shard, counters stay exact.

Cost: a follow is two or three small transactions (one when both users share a
shard); reading a relationship is one cache lookup, or one query on a miss.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Callable

import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..ids import IdGenerator, parse_id, shard_of
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.counters import Counters
from ..stores.meta import ShardedMeta
from .edges import EdgeOp, apply_ops, decode_ops, encode_ops


class Relationship(msgspec.Struct, array_like=True):
    """Every edge kind from one user to another, as seen from the first."""

    following: bool = False
    follower: bool = False
    requested: bool = False
    request_from: bool = False
    blocking: bool = False
    blocked_by: bool = False

    @property
    def hidden(self) -> bool:
        return self.blocking or self.blocked_by


class Page(msgspec.Struct):
    users: list[UserRecord]
    next_cursor: str | None


class GraphService:
    def __init__(
        self,
        meta: ShardedMeta,
        cache: CacheBackend,
        ids: IdGenerator,
        accounts: AccountsService,
        counters: Counters,
        emit: Callable[..., None],
    ) -> None:
        self.meta, self.ids, self.accounts, self.counters, self.emit = meta, ids, accounts, counters, emit
        self.cache = cache
        self.relationships: CacheTable[Relationship] = CacheTable(cache, "relationships", Relationship)
        self._pair_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = weakref.WeakValueDictionary()
        # Called with (a, b) right after a change between two users commits, before any
        # event: later modules drop what they cached about the pair (the feed: followees).
        self.on_change: list[Callable[[int, int], None]] = []
        # Each says whether a user is hidden from everyone, as if missing (the
        # moderation module: suspended accounts); profiles and content then 404.
        self.hidden_users: list[Callable[[int], bool]] = []

    def is_hidden(self, user_id: int) -> bool:
        return any(check(user_id) for check in self.hidden_users)

    # -- reading ---------------------------------------------------------------------

    async def relationship(self, viewer_id: int, other_id: int) -> Relationship:
        cached = self.relationships.get((viewer_id, other_id))
        if cached is not None:
            return cached
        generation = self.relationships.generation()
        rows = await self.meta.read(
            shard_of(viewer_id), "SELECT kind FROM edges WHERE src = ? AND dst = ?", (viewer_id, other_id)
        )
        relationship = Relationship(**{row["kind"]: True for row in rows})
        self.relationships.fill((viewer_id, other_id), relationship, generation)
        return relationship

    async def profile(self, viewer_id: int | None, username: str) -> tuple[UserRecord, dict[str, int], Relationship | None]:
        """A user, their counters and their relationship to the viewer: the profile page.

        Hot path: when everything is cached it costs two LMDB read transactions (name
        to id, then user, counters and relationship together) and no SQLite call.
        """
        user_id = self.accounts.usernames.get(username.lower())
        if user_id is not None:
            lookups = [self.accounts.users.lookup(user_id), self.counters.table.lookup(user_id)]
            if viewer_id is not None and viewer_id != user_id:
                lookups.append(self.relationships.lookup((viewer_id, user_id)))
            raws = self.cache.get_multi(lookups)
            if None not in raws:
                user, counts = self.accounts.users.decode(raws[0]), self.counters.table.decode(raws[1])
                relationship = self.relationships.decode(raws[2]) if len(raws) == 3 else None
                if relationship is not None and relationship.hidden or self.is_hidden(user_id):
                    raise NotFound(f"no user '{username.lower()}'")
                return user, counts, relationship
        # A miss somewhere: the general path fills what is missing.
        user = await self.visible_user(viewer_id, username)
        relationship = None
        if viewer_id is not None and viewer_id != user.id:
            relationship = await self.relationship(viewer_id, user.id)
        return user, await self.counters.get(user.id), relationship

    async def visible_user(self, viewer_id: int | None, username: str) -> UserRecord:
        """The user, unless missing or blocked either way (then NotFound, the same answer)."""
        user = await self.accounts.by_username(username)
        if self.is_hidden(user.id):
            raise NotFound(f"no user '{username.lower()}'")
        if viewer_id is not None and viewer_id != user.id and (await self.relationship(viewer_id, user.id)).hidden:
            raise NotFound(f"no user '{username.lower()}'")
        return user

    async def can_see_content(self, viewer_id: int | None, owner: UserRecord) -> bool:
        """Public accounts show their content to all; private ones to themselves and followers."""
        if self.hidden_users and self.is_hidden(owner.id):
            return False
        if not owner.private or viewer_id == owner.id:
            return True
        return viewer_id is not None and (await self.relationship(viewer_id, owner.id)).following

    async def list_people(
        self, viewer_id: int | None, username: str, kind: str, cursor: str | None, limit: int
    ) -> Page:
        """Followers or following of someone, if the viewer may see them."""
        owner = await self.visible_user(viewer_id, username)
        if not await self.can_see_content(viewer_id, owner):
            raise Forbidden(f"'{owner.username}' is private: follow them to see who they follow and who follows them")
        return await self.list_edges(owner.id, kind, viewer_id, cursor, limit)

    async def list_edges(self, owner_id: int, kind: str, viewer_id: int | None, cursor: str | None, limit: int) -> Page:
        """Users on `kind` edges of owner, newest first, without anyone hidden from the viewer."""
        before = (1 << 63) - 1 if not cursor else parse_id(cursor)  # `?cursor=` means the first page
        if before is None:
            raise InvalidInput("cursor is not one this server gave out")
        rows = await self.meta.read(
            shard_of(owner_id),
            "SELECT dst, id FROM edges WHERE src = ? AND kind = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (owner_id, kind, before, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [row["dst"] for row in rows]
        hidden = await self.hidden_from(viewer_id, ids)
        users = await self.accounts.get_users(ids)
        page = [users[i] for i in ids if i in users and i not in hidden]
        return Page(page, str(rows[-1]["id"]) if more else None)

    async def hidden_from(self, viewer_id: int | None, ids: list[int]) -> set[int]:
        """Those of `ids` the viewer blocks or is blocked by (one read on the viewer's shard)."""
        if viewer_id is None or not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = await self.meta.read(
            shard_of(viewer_id),
            f"SELECT dst FROM edges WHERE src = ? AND kind IN ('blocking', 'blocked_by') AND dst IN ({marks})",
            (viewer_id, *ids),
        )
        return {row["dst"] for row in rows}

    # -- changing --------------------------------------------------------------------

    def _lock(self, a: int, b: int) -> asyncio.Lock:
        key = (min(a, b), max(a, b))
        lock = self._pair_locks.get(key)
        if lock is None:
            lock = self._pair_locks[key] = asyncio.Lock()
        return lock

    async def _target(self, viewer_id: int, username: str, *, allow_hidden: bool = False) -> UserRecord:
        target = await self.accounts.by_username(username) if allow_hidden else await self.visible_user(viewer_id, username)
        if target.id == viewer_id:
            raise InvalidInput("you cannot do that to yourself")
        return target

    async def _change(self, a: int, b: int, ops: list[EdgeOp]) -> None:
        """Apply ops (seen from a) on a's shard and their mirror on b's, durably. Hold the pair lock."""
        mirror = [op.mirrored() for op in ops]
        shard_a, shard_b = shard_of(a), shard_of(b)
        if shard_a == shard_b:
            await self.meta.write(shard_a, lambda conn: apply_ops(conn, ops + mirror))
        else:

            def local_half(conn: sqlite3.Connection) -> int:
                apply_ops(conn, ops)
                return conn.execute(
                    "INSERT INTO graph_outbox (src, dst, shard, ops) VALUES (?, ?, ?, ?)",
                    (a, b, shard_b, encode_ops(mirror)),
                ).lastrowid

            outbox_id = await self.meta.write(shard_a, local_half)
            await self.meta.write(shard_b, lambda conn: apply_ops(conn, mirror))
            await self.meta.write(
                shard_a, lambda conn: conn.execute("DELETE FROM graph_outbox WHERE id = ?", (outbox_id,))
            )
        self._invalidate(a, b)

    def _invalidate(self, a: int, b: int) -> None:
        self.relationships.delete((a, b))
        self.relationships.delete((b, a))
        self.counters.invalidate(a, b)
        for callback in self.on_change:
            callback(a, b)

    async def follow(self, viewer_id: int, username: str) -> str:
        target = await self._target(viewer_id, username)
        async with self._lock(viewer_id, target.id):
            current = await self.relationship(viewer_id, target.id)
            if current.hidden:
                raise NotFound(f"no user '{target.username}'")
            if current.following:
                raise Conflict(f"you already follow '{target.username}'")
            if current.requested:
                raise Conflict(f"you already asked to follow '{target.username}'")
            kind = "requested" if target.private else "following"
            edge_id = self.ids.next_id(shard_of(viewer_id))
            await self._change(viewer_id, target.id, [EdgeOp(True, viewer_id, kind, target.id, edge_id)])
            self.emit("graph.follow_requested" if target.private else "graph.followed", follower_id=viewer_id, followee_id=target.id)
            if kind == "requested" and not (await self.accounts.get_user(target.id)).private:
                # The account went public after we read it, and its owner's "let everyone in"
                # may have run before this request existed: let it in as going public promises.
                await self._approve_or_reject(target.id, viewer_id, True)
                kind = "following"
        return kind

    async def unfollow(self, viewer_id: int, username: str) -> None:
        target = await self._target(viewer_id, username)
        async with self._lock(viewer_id, target.id):
            current = await self.relationship(viewer_id, target.id)
            if not (current.following or current.requested):
                raise Conflict(f"you do not follow '{target.username}'")
            kind = "following" if current.following else "requested"
            await self._change(viewer_id, target.id, [EdgeOp(False, viewer_id, kind, target.id)])
        event = "graph.unfollowed" if kind == "following" else "graph.request_rejected"
        self.emit(event, follower_id=viewer_id, followee_id=target.id)

    async def answer_request(self, viewer_id: int, username: str, approve: bool) -> None:
        requester = await self._target(viewer_id, username, allow_hidden=True)
        async with self._lock(viewer_id, requester.id):
            if not (await self.relationship(viewer_id, requester.id)).request_from:
                raise NotFound(f"no follow request from '{requester.username}'")
            await self._approve_or_reject(viewer_id, requester.id, approve)

    async def _approve_or_reject(self, viewer_id: int, requester_id: int, approve: bool) -> None:
        ops = [EdgeOp(False, viewer_id, "request_from", requester_id)]
        if approve:
            ops.append(EdgeOp(True, viewer_id, "follower", requester_id, self.ids.next_id(shard_of(viewer_id))))
        await self._change(viewer_id, requester_id, ops)
        event = "graph.request_approved" if approve else "graph.request_rejected"
        self.emit(event, follower_id=requester_id, followee_id=viewer_id)

    async def approve_all_requests(self, user_id: int) -> int:
        """Let everyone who asked in (the account went public). Returns how many."""
        rows = await self.meta.read(
            shard_of(user_id), "SELECT dst FROM edges WHERE src = ? AND kind = 'request_from'", (user_id,)
        )
        for row in rows:
            async with self._lock(user_id, row["dst"]):
                if (await self.relationship(user_id, row["dst"])).request_from:
                    await self._approve_or_reject(user_id, row["dst"], True)
        return len(rows)

    async def block(self, viewer_id: int, username: str) -> None:
        target = await self._target(viewer_id, username, allow_hidden=True)
        async with self._lock(viewer_id, target.id):
            if (await self.relationship(viewer_id, target.id)).blocking:
                raise Conflict(f"you already block '{target.username}'")
            # Blocking ends every tie both ways: follows and requests in either direction.
            ops = [EdgeOp(False, viewer_id, kind, target.id) for kind in ("following", "follower", "requested", "request_from")]
            ops.append(EdgeOp(True, viewer_id, "blocking", target.id, self.ids.next_id(shard_of(viewer_id))))
            await self._change(viewer_id, target.id, ops)
        self.emit("graph.blocked", blocker_id=viewer_id, blocked_id=target.id)

    async def unblock(self, viewer_id: int, username: str) -> None:
        target = await self._target(viewer_id, username, allow_hidden=True)
        async with self._lock(viewer_id, target.id):
            if not (await self.relationship(viewer_id, target.id)).blocking:
                raise Conflict(f"you do not block '{target.username}'")
            await self._change(viewer_id, target.id, [EdgeOp(False, viewer_id, "blocking", target.id)])
        self.emit("graph.unblocked", blocker_id=viewer_id, blocked_id=target.id)

    # -- recovery --------------------------------------------------------------------

    async def replay_outbox(self) -> int:
        """Apply every other-side half left behind by a crash. Returns how many."""
        replayed = 0
        for shard in range(self.meta.shard_count):
            rows = await self.meta.read(shard, "SELECT id, src, dst, shard, ops FROM graph_outbox ORDER BY id")
            for row in rows:
                async with self._lock(row["src"], row["dst"]):
                    # The change that wrote the row may have finished (and deleted it) while we
                    # waited for the lock, and a later change may have moved on: skip it then.
                    if await self.meta.read_one(shard, "SELECT 1 FROM graph_outbox WHERE id = ?", (row["id"],)) is None:
                        continue
                    mirror = decode_ops(row["ops"])
                    await self.meta.write(row["shard"], lambda conn, ops=mirror: apply_ops(conn, ops))
                    await self.meta.write(
                        shard, lambda conn, i=row["id"]: conn.execute("DELETE FROM graph_outbox WHERE id = ?", (i,))
                    )
                    self._invalidate(row["src"], row["dst"])
                replayed += 1
        return replayed

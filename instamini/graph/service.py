"""The follow graph: follow, requests for private accounts, block, and the lists.

A change between users A and B is written on A's shard first, together with an
outbox row holding B's half; then B's half is applied on B's shard and the
outbox row is deleted. If the process dies in between, `replay_outbox()` at the
next start finishes the job (applying a half twice is harmless, see edges.py).
When A and B share a shard, both halves go in one transaction.

Changes on one pair of users are serialized by a lock per pair, so two racing
requests (follow and unfollow, or a block meanwhile) cannot interleave their
halves; with one writer per shard, counters stay exact.

In a cluster (docs/cluster.md) each read runs on the owner of the shard it reads
(a relationship on the viewer's owner, the only cache that holds it; a list on its
owner's), and every change on a pair runs on ONE instance, the owner of the lower
of the two users' shards (`pair_shard`): whichever instance took the request looks
the username up and forwards the change there. The lock is per process; because
every change on a pair, and every delivery of its outbox rows, runs in that one
process, it still serializes the pair across the cluster, as long as the map
stands (while a shard moves, a change begun under the old map may overlap one
under the new). That instance writes its own user's half first, with the outbox
row, and sends the other half to the other user's owner (outbox.py). If that
owner does not answer, the change still succeeds: the row stays and `run_once()`
delivers it once the owner is back; until then the other side lags behind (its
counters, and the pair as its user sees it). The `on_change` hooks fire on each
owner right after its own half commits, so a hook only needs to drop what this
instance holds about its own user (the feed: the follower's timeline, which lives
with the follower's owner); the other user's owner does the same for theirs.

Cost: a follow is two or three small transactions (one when both users share a
shard); reading a relationship is one cache lookup, or one query on a miss. In a
cluster add a round trip for each step on another instance: the username lookup,
the change if its pair runs elsewhere, the other half if its user is elsewhere.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..cluster.forward import owned
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..ids import IdGenerator, parse_id, shard_of
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.counters import Counters
from ..stores.meta import ShardedMeta
from .edges import EdgeOp
from .outbox import OutboxMixin


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

    def mirrored(self) -> Relationship:
        """The same edges seen from the other user."""
        return Relationship(self.follower, self.following, self.request_from, self.requested, self.blocked_by, self.blocking)


class Page(msgspec.Struct):
    users: list[UserRecord]
    next_cursor: str | None


def pair_shard(a: int, b: int) -> int:
    """The shard whose owner runs every change between a and b (the same for (b, a))."""
    return min(shard_of(a), shard_of(b))


def _by_pair(self, viewer_id: int, other, *_) -> int:
    return pair_shard(viewer_id, other if isinstance(other, int) else other.id)


class GraphService(OutboxMixin):
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
        # In a cluster it runs on each of the two users' owners, after that owner's half
        # commits (maybe much later, see outbox.py): each drops what it holds, its own user's.
        self.on_change: list[Callable[[int, int], None]] = []
        # Each says whether a user is hidden from everyone, as if missing (the
        # moderation module: suspended accounts); profiles and content then 404.
        self.hidden_users: list[Callable[[int], bool]] = []
        # The cluster node when this instance is one of several (cluster/forward.py).
        self.cluster = None

    def is_hidden(self, user_id: int) -> bool:
        return any(check(user_id) for check in self.hidden_users)

    def _here(self, shard: int) -> bool:
        """Whether this instance owns `shard` (always, alone; a made-up shard stays here too)."""
        node = self.cluster
        return node is None or not 0 <= shard < node.topology.shard_count or node.topology.is_local(shard)

    # -- reading ---------------------------------------------------------------------

    @owned(lambda self, viewer_id, other_id: shard_of(viewer_id))
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

        Hot path: when everything is cached here it costs two LMDB read transactions
        (name to id, then user, counters and relationship together) and no SQLite call.
        Only this instance's own entries are read so: the user's (their name's shard)
        and the viewer's relationship (the viewer's shard); the rest is asked of owners.
        """
        name = username.lower()
        mine = self.cluster is None or self._here(self.meta.shard_for_text(name))  # no hashing alone
        user_id = self.accounts.usernames.get(name) if mine else None
        if user_id is not None and (viewer_id is None or self._here(shard_of(viewer_id))):
            lookups = [self.accounts.users.lookup(user_id), self.counters.table.lookup(user_id)]
            if viewer_id is not None and viewer_id != user_id:
                lookups.append(self.relationships.lookup((viewer_id, user_id)))
            raws = self.cache.get_multi(lookups)
            if None not in raws:
                user, counts = self.accounts.users.decode(raws[0]), self.counters.table.decode(raws[1])
                relationship = self.relationships.decode(raws[2]) if len(raws) == 3 else None
                if relationship is not None and relationship.hidden or self.is_hidden(user_id):
                    raise NotFound(f"no user '{name}'")
                return user, counts, relationship
        # A miss somewhere, or someone else's: the general path fills what is missing, on its owner.
        user, counts = await self._profile_card(name)
        return user, counts, await self._visible(viewer_id, user)

    @owned(lambda self, username: self.meta.shard_for_text(username.lower()))
    async def _profile_card(self, username: str) -> tuple[UserRecord, dict[str, int]]:
        # User and counters live with the name: one call to their owner, cache reads there.
        user = await self.accounts.by_username(username)
        return user, await self.counters.get(user.id)

    async def _visible(self, viewer_id: int | None, user: UserRecord) -> Relationship | None:
        """The viewer's relationship to `user` (None for nobody or themselves), or NotFound if hidden."""
        if self.is_hidden(user.id):
            raise NotFound(f"no user '{user.username}'")
        if viewer_id is None or viewer_id == user.id:
            return None
        relationship = await self.relationship(viewer_id, user.id)
        if relationship.hidden:
            raise NotFound(f"no user '{user.username}'")
        return relationship

    async def visible_user(self, viewer_id: int | None, username: str) -> UserRecord:
        """The user, unless missing or blocked either way (then NotFound, the same answer)."""
        user = await self.accounts.by_username(username)
        await self._visible(viewer_id, user)
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
        owner = await self.accounts.by_username(username)
        relationship = await self._visible(viewer_id, owner)
        if owner.private and viewer_id != owner.id and not (relationship is not None and relationship.following):
            raise Forbidden(f"'{owner.username}' is private: follow them to see who they follow and who follows them")
        return await self.list_edges(owner.id, kind, viewer_id, cursor, limit)

    async def list_edges(self, owner_id: int, kind: str, viewer_id: int | None, cursor: str | None, limit: int) -> Page:
        """Users on `kind` edges of owner, newest first, without anyone hidden from the viewer."""
        before = (1 << 63) - 1 if not cursor else parse_id(cursor)  # `?cursor=` means the first page
        if before is None:
            raise InvalidInput("cursor is not one this server gave out")
        rows = await self._edge_rows(owner_id, kind, before, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [dst for dst, _ in rows]
        hidden = await self.hidden_from(viewer_id, ids)
        users = await self.accounts.get_users(ids)
        page = [users[i] for i in ids if i in users and i not in hidden]
        return Page(page, str(rows[-1][1]) if more else None)

    @owned(lambda self, owner_id, *_: shard_of(owner_id))
    async def _edge_rows(self, owner_id: int, kind: str, before: int, limit: int) -> list[tuple[int, int]]:
        """(dst, edge id) of owner's `kind` edges older than `before`, newest first."""
        rows = await self.meta.read(
            shard_of(owner_id),
            "SELECT dst, id FROM edges WHERE src = ? AND kind = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (owner_id, kind, before, limit),
        )
        return [(row["dst"], row["id"]) for row in rows]

    @owned(lambda self, viewer_id, ids: shard_of(viewer_id) if viewer_id is not None and ids else -1)
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

    # -- changing: the request's instance finds the target, the pair's instance changes --

    def _lock(self, a: int, b: int) -> asyncio.Lock:
        key = (min(a, b), max(a, b))
        lock = self._pair_locks.get(key)
        if lock is None:
            lock = self._pair_locks[key] = asyncio.Lock()
        return lock

    async def _target(self, viewer_id: int, username: str, *, allow_hidden: bool = False) -> UserRecord:
        # A block either way is checked by the change itself, under the pair's lock.
        target = await self.accounts.by_username(username)
        if not allow_hidden and self.is_hidden(target.id):
            raise NotFound(f"no user '{target.username}'")
        if target.id == viewer_id:
            raise InvalidInput("you cannot do that to yourself")
        return target

    def _edge_id(self, viewer_id: int, other_id: int) -> int:
        # Minted for a shard this instance owns: ids are unique per process and per shard.
        shard = shard_of(viewer_id)
        return self.ids.next_id(shard if self._here(shard) else shard_of(other_id))

    async def _current(self, viewer_id: int, other_id: int) -> Relationship:
        """The pair as the viewer sees it, read on a side this instance owns.

        On the pair's instance that side is the one every change writes first, so it is
        never behind the other (which may wait for an outbox delivery)."""
        if self._here(shard_of(viewer_id)):
            return await self.relationship(viewer_id, other_id)
        return (await self.relationship(other_id, viewer_id)).mirrored()

    async def follow(self, viewer_id: int, username: str) -> str:
        return await self._follow(viewer_id, await self._target(viewer_id, username))

    @owned(_by_pair)
    async def _follow(self, viewer_id: int, target: UserRecord) -> str:
        async with self._lock(viewer_id, target.id):
            current = await self._current(viewer_id, target.id)
            if current.hidden:
                raise NotFound(f"no user '{target.username}'")
            if current.following:
                raise Conflict(f"you already follow '{target.username}'")
            if current.requested:
                raise Conflict(f"you already asked to follow '{target.username}'")
            kind = "requested" if target.private else "following"
            edge_id = self._edge_id(viewer_id, target.id)
            await self._change(viewer_id, target.id, [EdgeOp(True, viewer_id, kind, target.id, edge_id)])
            self.emit("graph.follow_requested" if target.private else "graph.followed", follower_id=viewer_id, followee_id=target.id)
            if kind == "requested" and not (await self.accounts.get_user(target.id)).private:
                # The account went public after we read it, and its owner's "let everyone in"
                # may have run before this request existed: let it in as going public promises.
                await self._approve_or_reject(target.id, viewer_id, True)
                kind = "following"
        return kind

    async def unfollow(self, viewer_id: int, username: str) -> None:
        await self._unfollow(viewer_id, await self._target(viewer_id, username))

    @owned(_by_pair)
    async def _unfollow(self, viewer_id: int, target: UserRecord) -> None:
        async with self._lock(viewer_id, target.id):
            current = await self._current(viewer_id, target.id)
            if current.hidden:
                raise NotFound(f"no user '{target.username}'")
            if not (current.following or current.requested):
                raise Conflict(f"you do not follow '{target.username}'")
            kind = "following" if current.following else "requested"
            await self._change(viewer_id, target.id, [EdgeOp(False, viewer_id, kind, target.id)])
        event = "graph.unfollowed" if kind == "following" else "graph.request_rejected"
        self.emit(event, follower_id=viewer_id, followee_id=target.id)

    async def answer_request(self, viewer_id: int, username: str, approve: bool) -> None:
        try:
            requester = await self._target(viewer_id, username, allow_hidden=True)
        except NotFound:
            # No such user is no such request: the answer for someone who did not ask, so it
            # tells nobody (someone they blocked, say) whether the name exists.
            raise NotFound(f"no follow request from '{username.lower()}'") from None
        await self._answer(viewer_id, requester, approve)

    @owned(_by_pair)
    async def _answer(self, viewer_id: int, requester: UserRecord, approve: bool) -> None:
        async with self._lock(viewer_id, requester.id):
            if not (await self._current(viewer_id, requester.id)).request_from:
                raise NotFound(f"no follow request from '{requester.username}'")
            await self._approve_or_reject(viewer_id, requester.id, approve)

    async def _approve_or_reject(self, viewer_id: int, requester_id: int, approve: bool) -> None:
        ops = [EdgeOp(False, viewer_id, "request_from", requester_id)]
        if approve:
            ops.append(EdgeOp(True, viewer_id, "follower", requester_id, self._edge_id(viewer_id, requester_id)))
        await self._change(viewer_id, requester_id, ops)
        event = "graph.request_approved" if approve else "graph.request_rejected"
        self.emit(event, follower_id=requester_id, followee_id=viewer_id)

    async def approve_all_requests(self, user_id: int) -> int:
        """Let everyone who asked in (the account went public). Returns how many."""
        senders = await self._request_senders(user_id)
        for sender in senders:
            await self._let_in(user_id, sender)
        return len(senders)

    @owned(lambda self, user_id: shard_of(user_id))
    async def _request_senders(self, user_id: int) -> list[int]:
        rows = await self.meta.read(
            shard_of(user_id), "SELECT dst FROM edges WHERE src = ? AND kind = 'request_from'", (user_id,)
        )
        return [row["dst"] for row in rows]

    @owned(_by_pair)
    async def _let_in(self, user_id: int, requester_id: int) -> None:
        async with self._lock(user_id, requester_id):
            if (await self._current(user_id, requester_id)).request_from:
                await self._approve_or_reject(user_id, requester_id, True)

    async def block(self, viewer_id: int, username: str) -> None:
        await self._block(viewer_id, await self._target(viewer_id, username, allow_hidden=True))

    @owned(_by_pair)
    async def _block(self, viewer_id: int, target: UserRecord) -> None:
        async with self._lock(viewer_id, target.id):
            if (await self._current(viewer_id, target.id)).blocking:
                raise Conflict(f"you already block '{target.username}'")
            # Blocking ends every tie both ways: follows and requests in either direction.
            ops = [EdgeOp(False, viewer_id, kind, target.id) for kind in ("following", "follower", "requested", "request_from")]
            ops.append(EdgeOp(True, viewer_id, "blocking", target.id, self._edge_id(viewer_id, target.id)))
            await self._change(viewer_id, target.id, ops)
        self.emit("graph.blocked", blocker_id=viewer_id, blocked_id=target.id)

    async def unblock(self, viewer_id: int, username: str) -> None:
        await self._unblock(viewer_id, await self._target(viewer_id, username, allow_hidden=True))

    @owned(_by_pair)
    async def _unblock(self, viewer_id: int, target: UserRecord) -> None:
        async with self._lock(viewer_id, target.id):
            if not (await self._current(viewer_id, target.id)).blocking:
                raise Conflict(f"you do not block '{target.username}'")
            await self._change(viewer_id, target.id, [EdgeOp(False, viewer_id, "blocking", target.id)])
        self.emit("graph.unblocked", blocker_id=viewer_id, blocked_id=target.id)

    def _invalidate(self, a: int, b: int) -> None:
        # Only this instance's own entries: the other side's are its owner's to drop.
        for user_id, other_id in ((a, b), (b, a)):
            if self._here(shard_of(user_id)):
                self.relationships.delete((user_id, other_id))
                self.counters.invalidate(user_id)
        for callback in self.on_change:
            callback(a, b)

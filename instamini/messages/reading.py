"""Threads and messages as one viewer sees them: membership, blocks, pages, previews.

The idea: everything shown about a thread is read in batches, one query per shard per
kind of thing (see records.summaries), and what never changes (a thread's members) is
cached for good, so "may this user see this thread" is one LMDB lookup. What a viewer
sees depends on blocks of the moment: in a group, the messages of someone hidden from
the viewer (a block either way) are left out of pages, last messages and unread counts;
a shared post shows a preview only while the viewer may see it.

In a cluster a thread is read on its owner, the instance that owns its shard, where
its card is cached and its rows are local (`thread`, `history`, `thread_views`): one
round trip for a thread of another instance, one per instance for a page of threads.

Cost: a page of threads is three queries per shard involved, plus cached lookups
(members, people, relationships, posts); a page of history is one query.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..cluster.forward import owned, owned_batch
from ..errors import InvalidInput, NotFound
from ..graph.service import GraphService
from ..ids import shard_of
from ..media.records import MediaRecord
from ..posts.records import media_of
from ..posts.service import NEWEST, PostsService, decode_cursor
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.meta import ShardedMeta
from . import records
from .index import UserIndex
from .records import GROUP, INBOX, REQUESTS, MessageRecord, ThreadCard

CACHE_TABLES = ("message_threads",)
FOLDERS = (INBOX, REQUESTS)


def is_id(value: int) -> bool:
    """Whether an int from a socket frame can be an id at all (SQLite's 64 bits, positive)."""
    return 0 < value < NEWEST


def home_of(object_id: int, *more: int | None) -> int:
    """The shard a call about `object_id` runs on: read off the id. -1 (the call stays here,
    and fails as on a single instance) when it or any of `more` can be no id: such a
    number could not travel as msgpack either."""
    if not is_id(object_id) or any(other is not None and not is_id(other) for other in more):
        return -1
    return shard_of(object_id)


class PostPreview(msgspec.Struct, frozen=True):
    """A shared post as shown inside a message: who posted it, what, and its first item."""

    id: int
    author: UserRecord
    kind: str
    caption: str
    media: MediaRecord | None


class MessageView(msgspec.Struct, frozen=True):
    record: MessageRecord
    sender: UserRecord
    post: PostPreview | None  # None: no post shared, or gone, or hidden from the viewer


class ThreadView(msgspec.Struct, frozen=True):
    card: ThreadCard
    people: list[UserRecord]  # every member, the viewer included, creator first
    read_up_to: dict[int, int]  # member -> last message they read (0: none yet)
    folder: str  # the viewer's
    unread: int  # the viewer's
    last_message: MessageView | None


class ThreadPage(msgspec.Struct):
    threads: list[ThreadView]
    next_cursor: str | None


class MessagePage(msgspec.Struct):
    messages: list[MessageView]
    next_cursor: str | None


class ThreadReader:
    def __init__(
        self, meta: ShardedMeta, cache: CacheBackend, accounts: AccountsService, graph: GraphService, posts: PostsService
    ) -> None:
        self.meta, self.accounts, self.graph, self.posts = meta, accounts, graph, posts
        self.cards: CacheTable[ThreadCard] = CacheTable(cache, "message_threads", ThreadCard)
        self.index = UserIndex(meta)
        self.cluster = None  # in a cluster, a thread is read and changed on its shard's owner

    # -- membership and visibility ------------------------------------------------------

    async def _card(self, user_id: int, thread_id: int) -> ThreadCard:
        """The thread, if the user is in it; NotFound otherwise (missing or not theirs: the same)."""
        card = None
        if is_id(thread_id) and shard_of(thread_id) < self.meta.shard_count:
            card = (await self.cards.get_or_load([thread_id], lambda ids: records.load_cards(self.meta, ids))).get(thread_id)
        if card is None or user_id not in card.member_ids:
            raise NotFound(f"no thread {thread_id}")
        return card

    async def _hidden(self, user_id: int, others: Iterable[int]) -> set[int]:
        """Those of `others` hidden from the user by a block, either way (symmetric)."""
        # One after another: cached relationships are LMDB hits, cheaper than tasks.
        return {other for other in others if other != user_id and (await self.graph.relationship(user_id, other)).hidden}

    # -- reading ------------------------------------------------------------------------

    @owned(lambda self, viewer_id, thread_id: home_of(thread_id))
    async def thread(self, viewer_id: int, thread_id: int) -> ThreadView:
        card = await self._card(viewer_id, thread_id)
        views = await self._thread_views(viewer_id, [card])
        if not views:  # the index is ahead of the thread (cannot happen: the thread commits first)
            raise NotFound(f"no thread {thread_id}")
        return views[0]

    async def threads(self, viewer_id: int, folder: str, cursor: str | None, limit: int) -> ThreadPage:
        """The viewer's threads in a folder, most recent activity first."""
        if folder not in FOLDERS:
            raise InvalidInput(f"folder: one of {', '.join(FOLDERS)}")
        rows = await self.index.newest(viewer_id, folder, decode_cursor(cursor, NEWEST), limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        ids = [thread_id for _, thread_id in rows]
        views = await self.thread_views(ids, viewer_id)
        return ThreadPage([views[i] for i in ids if i in views], str(rows[-1][0]) if more else None)

    @owned_batch
    async def thread_views(self, thread_ids: Iterable[int], viewer_id: int) -> dict[int, ThreadView]:
        """The threads as the viewer lists them, by id; those missing or not theirs left out.
        In a cluster each owner reads its own threads: one call per instance."""
        thread_ids = list(thread_ids)
        cards = await self.cards.get_or_load(thread_ids, lambda missing: records.load_cards(self.meta, missing))
        views = await self._thread_views(viewer_id, [cards[i] for i in thread_ids if i in cards])
        return {view.card.id: view for view in views}

    async def _thread_views(self, viewer_id: int, cards: list[ThreadCard]) -> list[ThreadView]:
        member_ids = {member for card in cards for member in card.member_ids}
        hidden = await self._hidden(viewer_id, {m for card in cards if card.kind == GROUP for m in card.member_ids})
        summaries = await records.summaries(self.meta, viewer_id, [card.id for card in cards], hidden)
        users = await self.accounts.get_users(member_ids)
        last = [summaries[card.id].last_message for card in cards if card.id in summaries]
        messages = {view.record.id: view for view in await self._message_views(viewer_id, [m for m in last if m])}
        views = []
        for card in cards:
            summary = summaries.get(card.id)
            if summary is None:
                continue
            states = {state.user_id: state for state in summary.members}
            last_message = summary.last_message
            views.append(
                ThreadView(
                    card=card,
                    people=[users[member] for member in card.member_ids if member in users],
                    read_up_to={member: states[member].last_read_message_id for member in card.member_ids},
                    folder=states[viewer_id].folder,
                    unread=summary.unread,
                    last_message=None if last_message is None else messages.get(last_message.id),
                )
            )
        return views

    @owned(lambda self, viewer_id, thread_id, *_: home_of(thread_id))
    async def history(self, viewer_id: int, thread_id: int, cursor: str | None, limit: int) -> MessagePage:
        """The thread's messages, newest first; in a group, without those of people hidden from the viewer."""
        card = await self._card(viewer_id, thread_id)
        hidden = await self._hidden(viewer_id, card.member_ids) if card.kind == GROUP else set()
        before = decode_cursor(cursor, NEWEST)
        found = await records.newest_messages(self.meta, shard_of(thread_id), viewer_id, thread_id, hidden, before, limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return MessagePage(await self._message_views(viewer_id, found), str(found[-1].id) if more else None)

    async def _message_views(self, viewer_id: int, found: list[MessageRecord]) -> list[MessageView]:
        users = await self.accounts.get_users({record.sender_id for record in found})
        previews = await self._previews(viewer_id, [record.post_id for record in found if record.post_id is not None])
        return [
            MessageView(record, users[record.sender_id], previews.get(record.post_id))
            for record in found
            if record.sender_id in users
        ]

    async def _previews(self, viewer_id: int, post_ids: list[int]) -> dict[int, PostPreview]:
        """Previews of the posts the viewer may see now (deleted and hidden ones left out)."""
        if not post_ids:
            return {}
        previews = {}
        for view in await self.posts.hydrate(viewer_id, post_ids):
            media = media_of(view.record)
            previews[view.record.id] = PostPreview(
                view.record.id, view.author, view.record.kind, view.record.caption, media[0] if media else None
            )
        return previews

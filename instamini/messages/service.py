"""Direct and group messages: threads, sending, read receipts, typing; no HTTP in here.

The idea: a thread lives on its creator's shard with its members and messages, so a
message is stored in ONE transaction (acknowledged only once durable), then pushed
through the hub to every socket of every participant, the sender's other devices
included. Each member's list of threads is an index on their own shard, kept by the
outbox of index.py. Membership is fixed at creation, so a thread's card (kind,
creator, members) is cached for good: the hot checks (may this user send, type, read
here?) are one LMDB lookup.

Rules:
- Folders: someone you do not follow who starts a thread with you (direct or group)
  lands in your requests; your reply, or `accept`, moves it to your inbox. The
  creator's copy is always in their inbox.
- Blocks: you cannot start a thread with someone hidden from you (blocked either way:
  404, as for a missing name). In a direct thread, once either blocks the other,
  sending is refused (403) and typing is dropped; the history stays readable, whole. In
  a group, a block hides each from the other: their messages are not delivered, pushed,
  listed or counted as unread for the other (history is filtered by the blocks of the
  moment: lifting one shows the messages again), while the rest of the group sees both.
- One direct thread per pair: starting it again returns the existing one.

- Spam: before a message is stored, every check in `spam_checks` (author id, text -> is
  it spam?) is asked; the moderation module appends its model there. A message called
  spam is stored with `spam` = 1 and answered as usual (a spammer learns nothing), but
  reaches its sender only: no push to the others, no "message.sent" (no notification),
  no thread activity, left out of their history, previews and unread counts.

Reading (pages, previews, what blocks hide) is in reading.py, which this extends.

In a cluster every change of a thread runs on its owner (the instance that owns its
shard, its creator's): a new thread on the creator's, a message, a read receipt or an
accept on the thread's, each as one forwarded call; a direct thread is looked for and
made under a lock on the owner of the pair's smaller id, whoever starts it. What needs
a socket stays where the request arrived: a message is stored by a call to the owner,
pushed from here (skipping the sender's own device, whose socket is here), then
finished by a second call (the members' index rows, the event); typing asks the owner
who may be told and pushes from here. The hub forwards every frame to the other
instances' sockets.

Cost: a message is one transaction on the thread's shard, plus, for members on other
shards, one write per such shard and one to clear the outbox; a push is one encode
per distinct view of the message and a queue put per socket. In a cluster, a message
sent through an instance that does not own its thread costs two round trips to the
owner, and each member's index row on a third instance one more.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Sequence

import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..cluster.forward import owned
from ..config import MessagesConfig
from ..errors import Forbidden, InvalidInput, NotFound
from ..graph.service import GraphService
from ..ids import IdGenerator, shard_of
from ..media.records import MediaRecord
from ..posts.service import PostsService
from ..ranker.spam import SpamCheck, any_spam
from ..realtime import frames
from ..stores.cache_base import CacheBackend
from ..stores.meta import ShardedMeta
from . import attachments, records
from .index import Staged, stage
from .reading import MessageView, PostPreview, ThreadReader, ThreadView, home_of, is_id
from .records import DIRECT, GROUP, INBOX, REQUESTS, MessageRecord, ThreadCard
from .views import message_frame

log = logging.getLogger(__name__)


class _NoHub:
    """Stands in for the realtime hub when that module is off: pushes go nowhere."""

    def publish(self, user_ids: Iterable[int], frame: bytes, *, skip=None) -> int:
        return 0


class Sent(msgspec.Struct, frozen=True):
    """A message just stored on its thread's owner: what the instance that took it pushes,
    and what the owner then needs to finish it (the members' index rows, the event)."""

    view: MessageView
    recipients: list[int]
    staged: list[Staged]
    spam: bool


def _lock(locks: weakref.WeakValueDictionary, key) -> asyncio.Lock:
    lock = locks.get(key)
    if lock is None:
        lock = locks[key] = asyncio.Lock()
    return lock


class MessagesService(ThreadReader):
    """The reading of reading.py, plus every change: start, send, read, accept, typing."""

    def __init__(
        self,
        meta: ShardedMeta,
        cache: CacheBackend,
        ids: IdGenerator,
        accounts: AccountsService,
        graph: GraphService,
        posts: PostsService,
        config: MessagesConfig,
        emit: Callable[..., None],
        hub=None,
    ) -> None:
        super().__init__(meta, cache, accounts, graph, posts)
        self.ids, self.config, self.emit = ids, config, emit
        self.hub = hub if hub is not None else _NoHub()
        # Asked before a message is stored: (sender id, text) -> is it spam? (see the docstring)
        self.spam_checks: list[SpamCheck] = []
        # Sends in one thread are serialized, so message ids follow commit order there: a
        # read receipt up to a message then covers exactly the messages stored before it.
        self._thread_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        # Starting a direct thread looks for one between the pair first; this makes it exact.
        self._pair_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = weakref.WeakValueDictionary()

    async def _deliver(self, shard: int, staged) -> None:
        """Write the user-side rows of a committed change. The change stands if this fails:
        its outbox rows stay, and the next start (in a cluster, the next retry) delivers them
        (no 500 for a stored message)."""
        try:
            await self.index.deliver(shard, staged)
        except Exception:
            log.exception("thread index rows left in the outbox of shard %d for a replay", shard)

    # -- starting a thread --------------------------------------------------------------

    async def start_thread(self, creator_id: int, usernames: Sequence[str]) -> tuple[ThreadView, bool]:
        """A direct thread (one name) or a group (several); returns it and whether it is new.
        A direct thread that exists already is returned as it is."""
        others = await self._others(creator_id, usernames)
        if len(others) > 1:
            return await self._create(creator_id, GROUP, [user.id for user in others]), True
        return await self._start_direct(creator_id, others[0].id)

    async def _others(self, creator_id: int, usernames: Sequence[str]) -> list[UserRecord]:
        most = self.config.max_participants - 1
        if not 1 <= len(usernames) <= most:
            raise InvalidInput(f"usernames: 1 to {most} people (a thread has at most {most + 1}, you included)")
        names = [name.lower() for name in usernames]
        if len(set(names)) != len(names):
            raise InvalidInput("usernames: the same person appears twice")
        # Missing and blocked (either way) are the same 404, naming the first such name.
        others = [await self.graph.visible_user(creator_id, name) for name in names]
        if any(user.id == creator_id for user in others):
            raise InvalidInput("usernames: you are in the thread already; name the others")
        return others

    # On the owner of the pair's smaller id, whoever starts: its lock is the pair's only one.
    @owned(lambda self, creator_id, peer_id: shard_of(min(creator_id, peer_id)))
    async def _start_direct(self, creator_id: int, peer_id: int) -> tuple[ThreadView, bool]:
        """The pair's direct thread, made if they have none yet."""
        pair = (min(creator_id, peer_id), max(creator_id, peer_id))
        async with _lock(self._pair_locks, pair):
            existing = await self.index.direct_thread(creator_id, peer_id)
            if existing is None:
                # One the peer started is in the peer's index from its first commit, even
                # while the creator's row for it still waits in an outbox.
                existing = await self.index.direct_thread(peer_id, creator_id)
            if existing is not None:
                return await self.thread(creator_id, existing), False
            return await self._create(creator_id, DIRECT, [peer_id]), True

    # On the creator's owner: the thread's id and rows are its shard's.
    @owned(lambda self, creator_id, *_: shard_of(creator_id))
    async def _create(self, creator_id: int, kind: str, other_ids: list[int]) -> ThreadView:
        """A new thread with people `start_thread` checked, as the creator sees it."""
        shard = shard_of(creator_id)
        # Creator first, then by id: the order a fresh load from SQLite gives (see records.load_cards).
        members = [creator_id, *sorted(other_ids)]
        card = ThreadCard(self.ids.next_id(shard), kind, creator_id, members)
        folders = {creator_id: INBOX}
        for other_id in other_ids:
            following = (await self.graph.relationship(other_id, creator_id)).following
            folders[other_id] = INBOX if following else REQUESTS
        now_ms = time.time_ns() // 1_000_000

        def insert(conn):
            rows = records.insert_thread(conn, card, folders, now_ms)
            return stage(conn, shard, rows)

        staged = await self.meta.write(shard, insert)
        self.cards.put(card.id, card)
        await self._deliver(shard, staged)
        return await self.thread(creator_id, card.id)

    # -- sending ------------------------------------------------------------------------

    def _check_content(self, text: str, media_id: int | None, post_id: int | None) -> None:
        if len(text) > self.config.max_text_chars:
            raise InvalidInput(f"text: at most {self.config.max_text_chars} characters (got {len(text)})")
        if not text.strip() and media_id is None and post_id is None:
            raise InvalidInput("a message needs text, a photo (media_id) or a shared post (post_id)")

    async def send(
        self,
        sender_id: int,
        thread_id: int,
        text: str = "",
        media_id: int | None = None,
        post_id: int | None = None,
        skip_socket=None,
    ) -> MessageView:
        """Store a message, push it to the participants' sockets (all but `skip_socket`, one of
        this instance's), emit "message.sent", and return it as the sender sees it."""
        self._check_content(text, media_id, post_id)
        sent = await self._store_message(sender_id, thread_id, text, media_id, post_id)
        # The message is durable on the thread's shard: push it now, and only then write
        # the members' thread-list rows on their shards (their outbox covers a crash). The
        # sender's answer still waits for them, so their own list is current when it comes.
        await self._push_message(sent.view, sent.recipients, skip_socket)
        try:
            await self._finish_message(thread_id, sent.view.record.id, sender_id, sent.recipients, sent.staged, sent.spam)
        except Exception:  # the owner stopped answering: the outbox still has the rows (no 500 for a stored message)
            log.exception("message %d is stored; its thread index rows wait in the outbox", sent.view.record.id)
        return sent.view

    @owned(lambda self, sender_id, thread_id, text, media_id, post_id: home_of(thread_id, media_id, post_id))
    async def _store_message(
        self, sender_id: int, thread_id: int, text: str, media_id: int | None, post_id: int | None
    ) -> Sent:
        """Check and store a message, on the thread's owner."""
        card = await self._card(sender_id, thread_id)
        hidden = await self._hidden(sender_id, card.member_ids)
        if card.kind == DIRECT and hidden:
            raise Forbidden("you cannot send messages to this person")
        preview = await self._shareable(sender_id, post_id) if post_id is not None else None
        if media_id is not None and (not is_id(media_id) or shard_of(media_id) != shard_of(sender_id)):
            raise InvalidInput(f"media_id: {media_id} is not one of your uploads")  # it would live on their shard
        recipients = [member for member in card.member_ids if member not in hidden]
        spam = await any_spam(self.spam_checks, sender_id, text)
        if spam:
            recipients = [sender_id]  # stored, and shown to its sender's devices only
        async with _lock(self._thread_locks, thread_id):
            record, staged = await self._store(card, sender_id, text, media_id, post_id, recipients, spam)
        view = MessageView(record, await self.accounts.get_user(sender_id), preview)
        return Sent(view, recipients, staged, spam)

    @owned(lambda self, thread_id, *_: home_of(thread_id))
    async def _finish_message(
        self, thread_id: int, message_id: int, sender_id: int, recipients: list[int], staged: list[Staged], spam: bool
    ) -> None:
        """After the push, on the thread's owner: the members' index rows, then the event."""
        await self._deliver(shard_of(thread_id), staged)
        if spam:
            return
        others = [member for member in recipients if member != sender_id]
        self.emit("message.sent", message_id=message_id, thread_id=thread_id, sender_id=sender_id, recipient_ids=others)

    async def _store(
        self,
        card: ThreadCard,
        sender_id: int,
        text: str,
        media_id: int | None,
        post_id: int | None,
        recipients: list[int],
        spam: bool = False,
    ) -> tuple[MessageRecord, list[Staged]]:
        """One transaction on the thread's shard (the photo's claim too, when it lives there);
        returns the message and the members' index rows staged for their shards."""
        shard, sender_shard = shard_of(card.id), shard_of(sender_id)
        message_id = self.ids.next_id(shard)
        claimed = None
        if media_id is not None and sender_shard != shard:
            claimed = await self._claim(sender_id, media_id, card.id, message_id)

        def insert(conn):
            media = claimed
            if media_id is not None and media is None:
                media = attachments.claim(conn, sender_id, media_id, card.id, message_id)
            record = MessageRecord(message_id, card.id, sender_id, text, media, post_id)
            return record, stage(conn, shard, records.insert_message(conn, card, record, recipients, spam))

        try:
            record, staged = await self.meta.write(shard, insert)
        except Exception:
            if claimed is not None:  # the photo was claimed on another shard for nothing
                await self._release(sender_id, media_id, message_id)
            raise
        return record, staged

    # A photo is claimed beside its media row, on the sender's shard: on its owner.
    @owned(lambda self, sender_id, *_: shard_of(sender_id))
    async def _claim(self, sender_id: int, media_id: int, thread_id: int, message_id: int) -> MediaRecord:
        return await self.meta.write(
            shard_of(sender_id), lambda conn: attachments.claim(conn, sender_id, media_id, thread_id, message_id)
        )

    @owned(lambda self, sender_id, *_: shard_of(sender_id))
    async def _release(self, sender_id: int, media_id: int, message_id: int) -> None:
        await self.meta.write(shard_of(sender_id), lambda conn: attachments.release(conn, media_id, message_id))

    async def _shareable(self, sender_id: int, post_id: int) -> PostPreview:
        """The post's preview if the sender may see it; NotFound otherwise."""
        previews = await self._previews(sender_id, [post_id]) if is_id(post_id) else {}
        if post_id not in previews:
            raise NotFound(f"no post {post_id}")
        return previews[post_id]

    async def _push_message(self, view: MessageView, recipients: list[int], skip_socket) -> None:
        """One frame for those who may see the shared post, one without it for the others."""
        thread_id = view.record.thread_id
        if view.post is None:
            self.hub.publish(recipients, message_frame(thread_id, view), skip=skip_socket)
            return
        seeing, not_seeing = [], []
        for user_id in recipients:
            (seeing if await self.posts.sees(user_id, view.post.id) else not_seeing).append(user_id)
        self.hub.publish(seeing, message_frame(thread_id, view), skip=skip_socket)
        if not_seeing:
            blind = msgspec.structs.replace(view, post=None)
            self.hub.publish(not_seeing, message_frame(thread_id, blind), skip=skip_socket)

    # -- read receipts, requests, typing --------------------------------------------------

    @owned(lambda self, user_id, thread_id, message_id: home_of(thread_id, message_id))
    async def mark_read(self, user_id: int, thread_id: int, message_id: int) -> None:
        """Move the user's read receipt forward to a message of the thread (never back)."""
        card = await self._card(user_id, thread_id)
        if not is_id(message_id):
            raise NotFound(f"no message {message_id} in this thread")
        moved = await self.meta.write(
            shard_of(thread_id), lambda conn: records.mark_read(conn, thread_id, user_id, message_id)
        )
        if not moved:
            return
        hidden = await self._hidden(user_id, card.member_ids)
        audience = [member for member in card.member_ids if member not in hidden]
        frame = frames.encode("read", thread_id=str(thread_id), user_id=str(user_id), message_id=str(message_id))
        self.hub.publish(audience, frame)
        self.emit("message.read", thread_id=thread_id, user_id=user_id, message_id=message_id)

    @owned(lambda self, user_id, thread_id: home_of(thread_id))
    async def accept(self, user_id: int, thread_id: int) -> ThreadView:
        """Move a thread from the user's requests to their inbox (nothing if it is there)."""
        card = await self._card(user_id, thread_id)
        shard = shard_of(thread_id)
        staged = await self.meta.write(shard, lambda conn: stage(conn, shard, records.accept(conn, card, user_id)))
        await self._deliver(shard, staged)
        return await self.thread(user_id, thread_id)

    async def typing(self, user_id: int, thread_id: int, skip_socket=None) -> None:
        """Tell the others that the user is typing; not stored. Dropped across a block."""
        others = await self._typing_audience(user_id, thread_id)
        if others:
            frame = frames.encode("typing", thread_id=str(thread_id), user_id=str(user_id))
            self.hub.publish(others, frame, skip=skip_socket)

    @owned(lambda self, user_id, thread_id: home_of(thread_id))
    async def _typing_audience(self, user_id: int, thread_id: int) -> list[int]:
        """Who is told that the user types in the thread (on its owner, where its card is)."""
        card = await self._card(user_id, thread_id)
        hidden = await self._hidden(user_id, card.member_ids)
        if card.kind == DIRECT and hidden:
            return []
        return [member for member in card.member_ids if member != user_id and member not in hidden]

    # -- moderation ---------------------------------------------------------------------

    @owned(lambda self, message_id: home_of(message_id))
    async def text_of(self, message_id: int) -> str | None:
        """A message's text, whoever may see it (moderation trains the spam model on it)."""
        if not is_id(message_id) or shard_of(message_id) >= self.meta.shard_count:
            return None
        row = await self.meta.read_one(shard_of(message_id), "SELECT text FROM messages WHERE id = ?", (message_id,))
        return None if row is None else row["text"]

    @owned(lambda self, message_id: home_of(message_id))
    async def hide(self, message_id: int) -> None:
        """Hide a message from everyone but its sender, as if it had been judged spam when sent
        (an admin's "remove"). Hidden rather than deleted: read receipts, the thread's last
        activity and a sent photo's claim may point at it, and all stay valid this way."""

        def mark(conn) -> None:
            if not conn.execute("UPDATE messages SET spam = 1 WHERE id = ?", (message_id,)).rowcount:
                raise NotFound(f"no message {message_id}")

        if not is_id(message_id) or shard_of(message_id) >= self.meta.shard_count:
            raise NotFound(f"no message {message_id}")
        await self.meta.write(shard_of(message_id), mark)

    # -- recovery -----------------------------------------------------------------------

    async def replay_outbox(self) -> int:
        """Finish the user-side rows of changes interrupted by a crash, or left for an owner
        that did not answer, on this instance's shards. Returns how many. The messages
        module calls it at start and, in a cluster, every few seconds; tests call it too."""
        return await self.index.replay()

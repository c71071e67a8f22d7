"""The thread-side SQL: threads, members, messages, read receipts; and the batched reads.

As in posts/records.py, the writers are plain functions of a SQLite connection that
the service composes into one transaction on the thread's shard (with the user-side
rows of index.py). The readers take a list of thread ids and ask each shard once.

`hidden` arguments are the ids of people hidden from the viewer (a block either way):
in groups, their messages are left out of what the viewer reads and counts, in SQL, so
pages and unread counts stay exact. (A direct thread keeps its whole history: nothing
new can be sent in it across a block anyway.) Likewise, a message flagged `spam` is read
by its sender only: left out of everyone else's pages, last messages and unread counts.

Cost: a message is one INSERT and two small UPDATEs; a page of threads is three
queries per shard involved, each walking the (thread_id, id, sender_id) index only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import msgspec

from ..errors import NotFound
from ..ids import group_by_shard
from ..media.records import MediaRecord
from ..stores.meta import ShardedMeta
from .index import UserThreadRow

INBOX, REQUESTS = "inbox", "requests"
DIRECT, GROUP = "direct", "group"
MESSAGE_COLUMNS = "id, thread_id, sender_id, text, media, post_id"
_json = msgspec.json.encode
_media = msgspec.json.Decoder(MediaRecord).decode


class ThreadCard(msgspec.Struct, array_like=True, frozen=True):
    """What never changes about a thread (members are fixed at creation): cached for good."""

    id: int
    kind: str
    creator_id: int
    member_ids: list[int]

    def peer_of(self, user_id: int) -> int | None:
        """The other person of a direct thread; None in a group."""
        if self.kind != DIRECT:
            return None
        return next(member for member in self.member_ids if member != user_id)


class MessageRecord(msgspec.Struct, array_like=True, frozen=True):
    id: int
    thread_id: int
    sender_id: int
    text: str
    media: MediaRecord | None
    post_id: int | None


class MemberState(msgspec.Struct, frozen=True):
    """A member's changing part, read fresh: their read receipt and folder."""

    user_id: int
    last_read_message_id: int
    folder: str


class ThreadSummary(msgspec.Struct, frozen=True):
    """A thread as one viewer lists it: members' states, the viewer's unread count, the last message."""

    members: list[MemberState]
    unread: int
    last_message: MessageRecord | None


def message_from_row(row: sqlite3.Row) -> MessageRecord:
    media = None if row["media"] is None else _media(row["media"])
    return MessageRecord(row["id"], row["thread_id"], row["sender_id"], row["text"], media, row["post_id"])


# -- writing ---------------------------------------------------------------------------


def insert_thread(conn: sqlite3.Connection, card: ThreadCard, folders: dict[int, str], now_ms: int) -> list[UserThreadRow]:
    """A new thread and its members; returns every member's user-side row."""
    conn.execute("INSERT INTO threads (id, kind, creator_id) VALUES (?, ?, ?)", (card.id, card.kind, card.creator_id))
    conn.executemany(
        "INSERT INTO thread_members (thread_id, user_id, folder, joined_ms) VALUES (?, ?, ?, ?)",
        [(card.id, member, folders[member], now_ms) for member in card.member_ids],
    )
    return [UserThreadRow(member, card.id, card.id, folders[member], card.peer_of(member)) for member in card.member_ids]


def insert_message(
    conn: sqlite3.Connection, card: ThreadCard, record: MessageRecord, recipients: Iterable[int], spam: bool = False
) -> list[UserThreadRow]:
    """Store a message; returns the user-side rows of those it reaches (the sender included).
    Spam reaches its sender only (pass `recipients` accordingly) and is no thread activity."""
    media = None if record.media is None else _json(record.media)
    conn.execute(
        f"INSERT INTO messages ({MESSAGE_COLUMNS}, spam) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (record.id, record.thread_id, record.sender_id, record.text, media, record.post_id, spam),
    )
    if not spam:
        conn.execute("UPDATE threads SET last_message_id = ? WHERE id = ?", (record.id, card.id))
    # Writing in a thread means having read it; and replying to a request accepts it.
    conn.execute(
        "UPDATE thread_members SET last_read_message_id = ?, folder = 'inbox' WHERE thread_id = ? AND user_id = ?",
        (record.id, card.id, record.sender_id),
    )
    folders = dict(conn.execute("SELECT user_id, folder FROM thread_members WHERE thread_id = ?", (card.id,)).fetchall())
    return [UserThreadRow(user, card.id, record.id, folders[user], card.peer_of(user)) for user in recipients]


def mark_read(conn: sqlite3.Connection, thread_id: int, user_id: int, message_id: int) -> bool:
    """Move the user's read receipt forward to a message of the thread; False if it was there."""
    if conn.execute("SELECT 1 FROM messages WHERE id = ? AND thread_id = ?", (message_id, thread_id)).fetchone() is None:
        raise NotFound(f"no message {message_id} in this thread")
    return bool(
        conn.execute(
            "UPDATE thread_members SET last_read_message_id = ? "
            "WHERE thread_id = ? AND user_id = ? AND last_read_message_id < ?",
            (message_id, thread_id, user_id, message_id),
        ).rowcount
    )


def accept(conn: sqlite3.Connection, card: ThreadCard, user_id: int) -> list[UserThreadRow]:
    """Move a request to the user's inbox; returns their user-side row (none if it was there)."""
    moved = conn.execute(
        "UPDATE thread_members SET folder = 'inbox' WHERE thread_id = ? AND user_id = ? AND folder = 'requests'",
        (card.id, user_id),
    ).rowcount
    if not moved:
        return []
    last = conn.execute("SELECT coalesce(last_message_id, id) FROM threads WHERE id = ?", (card.id,)).fetchone()[0]
    return [UserThreadRow(user_id, card.id, last, INBOX, card.peer_of(user_id))]


# -- reading ---------------------------------------------------------------------------


async def load_cards(meta: ShardedMeta, thread_ids: list[int]) -> dict[int, ThreadCard]:
    rows = await meta.read_by_shard(
        "SELECT t.id, t.kind, t.creator_id, m.user_id FROM threads t JOIN thread_members m ON m.thread_id = t.id "
        "WHERE t.id IN ({ids}) ORDER BY t.id, m.user_id != t.creator_id, m.user_id",
        group_by_shard(thread_ids),
    )
    members: dict[int, list[int]] = {}
    heads: dict[int, tuple[str, int]] = {}
    for row in rows:
        heads[row["id"]] = (row["kind"], row["creator_id"])
        members.setdefault(row["id"], []).append(row["user_id"])
    return {thread_id: ThreadCard(thread_id, *heads[thread_id], members[thread_id]) for thread_id in heads}


_SUMMARY = """
SELECT tm.thread_id,
  (SELECT count(*) FROM messages m WHERE m.thread_id = tm.thread_id AND m.id > tm.last_read_message_id
     AND m.sender_id != tm.user_id AND m.spam = 0
     AND (t.kind = 'direct' OR m.sender_id NOT IN (SELECT value FROM json_each(?2)))) AS unread,
  (SELECT m.id FROM messages m WHERE m.thread_id = tm.thread_id AND (m.spam = 0 OR m.sender_id = ?1)
     AND (t.kind = 'direct' OR m.sender_id NOT IN (SELECT value FROM json_each(?2))) ORDER BY m.id DESC LIMIT 1) AS last_id
FROM thread_members tm JOIN threads t ON t.id = tm.thread_id
WHERE tm.user_id = ?1 AND tm.thread_id IN (SELECT value FROM json_each(?3))
"""


async def summaries(meta: ShardedMeta, viewer_id: int, thread_ids: list[int], hidden: set[int]) -> dict[int, ThreadSummary]:
    """Per thread: every member's state, the viewer's exact unread count, the last message
    the viewer may see (in groups, none from `hidden`). Threads the viewer is not in are left out."""
    hidden_json = _json(sorted(hidden)).decode()
    found: dict[int, ThreadSummary] = {}
    for shard, ids in group_by_shard(thread_ids).items():
        ids_json = _json(ids).decode()
        mine = await meta.read(shard, _SUMMARY, (viewer_id, hidden_json, ids_json))
        states = await meta.read(
            shard,
            "SELECT thread_id, user_id, last_read_message_id, folder FROM thread_members "
            "WHERE thread_id IN (SELECT value FROM json_each(?))",
            (ids_json,),
        )
        last_ids = [row["last_id"] for row in mine if row["last_id"] is not None]
        last = await meta.read(shard, f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ({','.join('?' * len(last_ids))})", last_ids)
        last_by_id = {row["id"]: message_from_row(row) for row in last}
        members: dict[int, list[MemberState]] = {}
        for row in states:
            members.setdefault(row["thread_id"], []).append(MemberState(row["user_id"], row["last_read_message_id"], row["folder"]))
        for row in mine:
            found[row["thread_id"]] = ThreadSummary(members[row["thread_id"]], row["unread"], last_by_id.get(row["last_id"]))
    return found


async def newest_messages(
    meta: ShardedMeta, shard: int, viewer_id: int, thread_id: int, hidden: set[int], before: int, limit: int
) -> list[MessageRecord]:
    rows = await meta.read(
        shard,
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ? AND id < ? AND (spam = 0 OR sender_id = ?) "
        f"AND sender_id NOT IN (SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT ?",
        (thread_id, before, viewer_id, _json(sorted(hidden)).decode(), limit),
    )
    return [message_from_row(row) for row in rows]

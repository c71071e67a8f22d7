"""The changes a notification can go through, each one write job on a shard.

The idea: an event means a few changes for a few recipients (`Notice`: tell this
user; `ForgetActor`, `ForgetKey`, `ForgetAbout`: something was taken back or
deleted). Each is applied by one function of a connection, inside the shard's
write transaction, so the row, its actors and the unread counter move together:
the badge is exact whatever happens between two events. Applying a change twice
is harmless (a repeated like, follow or message is recognised and ignored), which
is what an event delivered twice needs.

The changes are tagged Structs, and a `Job` is one change for one shard: in a cluster
they travel as msgpack to the owner of that shard, which applies them.

Cost: a notice is a lookup of the open group by its unique index, a few small
writes, and one indexed query for the newest actors; a forget is one indexed query
plus a write per notification it touches.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Literal, NamedTuple

import msgspec

from ..ids import shard_of
from ..stores.counters import bump

UNREAD = "notifications_unread"
SHOWN_ACTORS = 3  # the newest actors kept on the row: what a list item shows
COLUMNS = (
    "id, user_id, kind, post_id, comment_id, thread_id, actor_ids, actor_count, event_count, "
    "text_preview, read, seq, created_ms, updated_ms"
)
# How a notice joins the open notification with its key:
#   group        within the window since the group began ("alice and 3 others liked ...")
#   while_unread until it is read ("alice sent you 3 messages")
#   once         never: an open row with the key means this notice was given already
Mode = Literal["group", "while_unread", "once"]
_decode_ids = msgspec.json.Decoder(list[int]).decode


class Row(msgspec.Struct, frozen=True):
    """A notification as stored."""

    id: int
    user_id: int
    kind: str
    post_id: int | None
    comment_id: int | None
    thread_id: int | None
    actor_ids: list[int]
    actor_count: int
    event_count: int
    text_preview: str | None
    read: bool
    seq: int
    created_ms: int
    updated_ms: int


def _encode_ids(ids: list[int]) -> str:
    return msgspec.json.encode(ids).decode()


def row_of(row: sqlite3.Row) -> Row:
    values = dict(zip(row.keys(), tuple(row)))
    values["actor_ids"] = _decode_ids(values["actor_ids"])
    values["read"] = bool(values["read"])
    return Row(**values)


class Outcome(NamedTuple):
    """What a change did: the unread count now of each user it touched, and the
    notification it made or moved up (to push), if any."""

    unread: dict[int, int]
    row: Row | None = None


NOTHING = Outcome({})


class Context(NamedTuple):
    """What a job needs from the service, read when the job runs."""

    next_seq: Callable[[int], int]  # shard -> a new time-ordered id on it
    now_ms: Callable[[], int]
    window_ms: int


# -- the changes -------------------------------------------------------------------------


class _ForOneUser(msgspec.Struct, frozen=True, tag=True):
    """A change to one user's notifications: a job on that user's shard."""

    user_id: int

    def shards(self, _: int) -> list[int]:
        return [shard_of(self.user_id)]


class Notice(_ForOneUser, frozen=True):
    """Tell `user_id` that `actor_id` did something."""

    kind: str
    key: str
    actor_id: int
    mode: Mode
    post_id: int | None = None
    comment_id: int | None = None
    parent_comment_id: int | None = None
    thread_id: int | None = None
    text_preview: str | None = None
    event_id: int | None = None  # a message id: each one counts, and counts once

    def apply(self, conn: sqlite3.Connection, context: Context) -> Outcome:
        current = conn.execute(
            "SELECT id, read, created_ms, last_event_id FROM notifications WHERE user_id = ? AND group_key = ?",
            (self.user_id, self.key),
        ).fetchone()
        if current is not None:
            if self.mode == "once":
                return NOTHING
            if _still_open(current, self.mode, context):
                return _join(conn, current, self, context)
            conn.execute("UPDATE notifications SET group_key = NULL WHERE id = ?", (current["id"],))
        return _insert(conn, self, context)


class ForgetActor(_ForOneUser, frozen=True):
    """Take an actor out of a user's notifications (of one kind, about one post, if given):
    an unlike, an unfollow, a block. A notification left with no actor goes."""

    actor_id: int
    kind: str | None = None
    post_id: int | None = None

    def apply(self, conn: sqlite3.Connection, context: Context) -> Outcome:
        sql = (
            "SELECT n.id, n.read, a.events FROM notifications n JOIN notification_actors a ON a.notification_id = n.id "
            "WHERE n.user_id = ? AND a.actor_id = ?"
        )
        params: list = [self.user_id, self.actor_id]
        if self.kind is not None:
            sql, params = sql + " AND n.kind = ?", params + [self.kind]
        if self.post_id is not None:
            sql, params = sql + " AND n.post_id = ?", params + [self.post_id]
        emptied = []
        for found in conn.execute(sql, params).fetchall():
            if _drop_actor(conn, found["id"], self.actor_id, found["events"]):
                emptied.append((found["id"], self.user_id, found["read"]))
        return _delete(conn, emptied) if emptied else NOTHING


class ForgetKey(_ForOneUser, frozen=True):
    """Delete a user's open notification with this key (a request withdrawn or answered)."""

    key: str

    def apply(self, conn: sqlite3.Connection, context: Context) -> Outcome:
        return _delete_where(conn, "user_id = ? AND group_key = ?", (self.user_id, self.key))


class ForgetAbout(msgspec.Struct, frozen=True, tag=True):
    """Delete every notification about a post (or one comment of it, with its replies),
    on every shard: its recipients (mentioned people, people replied to) may live anywhere."""

    post_id: int
    comment_id: int | None = None

    def shards(self, shard_count: int) -> Iterable[int]:
        return range(shard_count)

    def apply(self, conn: sqlite3.Connection, context: Context) -> Outcome:
        if self.comment_id is None:
            return _delete_where(conn, "post_id = ?", (self.post_id,))
        return _delete_where(
            conn, "post_id = ? AND (comment_id = ? OR parent_comment_id = ?)", (self.post_id, self.comment_id, self.comment_id)
        )


class ReadThread(_ForOneUser, frozen=True):
    """The user read a message thread up to a message: its notification is read too,
    unless a later message is already in it."""

    thread_id: int
    message_id: int

    def apply(self, conn: sqlite3.Connection, context: Context) -> Outcome:
        changed = conn.execute(
            "UPDATE notifications SET read = 1 WHERE user_id = ? AND kind = 'message' AND thread_id = ? "
            "AND read = 0 AND last_event_id <= ?",
            (self.user_id, self.thread_id, self.message_id),
        ).rowcount
        if not changed:
            return NOTHING
        bump(conn, self.user_id, UNREAD, -changed)
        return Outcome({self.user_id: unread_of(conn, self.user_id)})


Change = Notice | ForgetActor | ForgetKey | ForgetAbout | ReadThread


class Job(msgspec.Struct, array_like=True, frozen=True):
    """A change to apply on one shard (ForgetAbout makes one per shard)."""

    shard: int
    change: Change


# -- marking read ------------------------------------------------------------------------


def mark_read(conn: sqlite3.Connection, user_id: int, up_to_seq: int) -> int:
    """Mark read every notification of the user at or below a list position; the unread count."""
    changed = conn.execute(
        "UPDATE notifications SET read = 1 WHERE user_id = ? AND seq <= ? AND read = 0", (user_id, up_to_seq)
    ).rowcount
    if changed:
        bump(conn, user_id, UNREAD, -changed)
    return unread_of(conn, user_id)


def unread_of(conn: sqlite3.Connection, user_id: int) -> int:
    row = conn.execute("SELECT value FROM counters WHERE object_id = ? AND name = ?", (user_id, UNREAD)).fetchone()
    return row[0] if row else 0


# -- helpers -----------------------------------------------------------------------------


def _still_open(current: sqlite3.Row, mode: Mode, context: Context) -> bool:
    if mode == "group":
        return context.now_ms() - current["created_ms"] < context.window_ms
    return not current["read"]


def _insert(conn: sqlite3.Connection, notice: Notice, context: Context) -> Outcome:
    seq, now_ms = context.next_seq(shard_of(notice.user_id)), context.now_ms()
    conn.execute(
        "INSERT INTO notifications (id, user_id, kind, group_key, post_id, comment_id, parent_comment_id, thread_id, "
        "actor_ids, actor_count, event_count, last_event_id, text_preview, read, seq, created_ms, updated_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, 0, ?, ?, ?)",
        (
            seq, notice.user_id, notice.kind, notice.key, notice.post_id, notice.comment_id, notice.parent_comment_id,
            notice.thread_id, _encode_ids([notice.actor_id]), notice.event_id, notice.text_preview, seq, now_ms, now_ms,
        ),
    )
    conn.execute(
        "INSERT INTO notification_actors (notification_id, actor_id, seq, events) VALUES (?, ?, ?, 1)",
        (seq, notice.actor_id, seq),
    )
    bump(conn, notice.user_id, UNREAD, 1)
    return _outcome(conn, notice.user_id, seq)


def _join(conn: sqlite3.Connection, current: sqlite3.Row, notice: Notice, context: Context) -> Outcome:
    notification_id = current["id"]
    if notice.event_id is not None and notice.event_id <= (current["last_event_id"] or 0):
        return NOTHING  # this message was counted already
    present = conn.execute(
        "SELECT 1 FROM notification_actors WHERE notification_id = ? AND actor_id = ?", (notification_id, notice.actor_id)
    ).fetchone()
    if present and notice.event_id is None:
        return NOTHING  # a like or follow already in the group: the event came twice
    seq = context.next_seq(shard_of(notice.user_id))
    conn.execute(
        "INSERT INTO notification_actors (notification_id, actor_id, seq, events) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (notification_id, actor_id) DO UPDATE SET seq = excluded.seq, events = events + 1",
        (notification_id, notice.actor_id, seq),
    )
    conn.execute(
        "UPDATE notifications SET actor_count = actor_count + ?, event_count = event_count + 1, "
        "last_event_id = coalesce(?, last_event_id), text_preview = coalesce(?, text_preview), "
        "actor_ids = ?, read = 0, seq = ?, updated_ms = ? WHERE id = ?",
        (
            0 if present else 1, notice.event_id, notice.text_preview, _newest_actors(conn, notification_id), seq,
            context.now_ms(), notification_id,
        ),
    )
    if current["read"]:
        bump(conn, notice.user_id, UNREAD, 1)  # news in a read group: it is unread again
    return _outcome(conn, notice.user_id, notification_id)


def _drop_actor(conn: sqlite3.Connection, notification_id: int, actor_id: int, events: int) -> bool:
    """Remove one actor and their events from a notification; True if none is left."""
    conn.execute("DELETE FROM notification_actors WHERE notification_id = ? AND actor_id = ?", (notification_id, actor_id))
    conn.execute(
        "UPDATE notifications SET actor_count = actor_count - 1, event_count = max(event_count - ?, 0), actor_ids = ? "
        "WHERE id = ?",
        (events, _newest_actors(conn, notification_id), notification_id),
    )
    left = conn.execute("SELECT actor_count FROM notifications WHERE id = ?", (notification_id,)).fetchone()
    return left[0] <= 0


def _newest_actors(conn: sqlite3.Connection, notification_id: int) -> str:
    rows = conn.execute(
        "SELECT actor_id FROM notification_actors WHERE notification_id = ? ORDER BY seq DESC LIMIT ?",
        (notification_id, SHOWN_ACTORS),
    ).fetchall()
    return _encode_ids([row[0] for row in rows])


def _delete_where(conn: sqlite3.Connection, where: str, params: tuple) -> Outcome:
    found = conn.execute(f"SELECT id, user_id, read FROM notifications WHERE {where}", params).fetchall()
    return _delete(conn, [tuple(row) for row in found]) if found else NOTHING


def _delete(conn: sqlite3.Connection, found: list[tuple[int, int, int]]) -> Outcome:
    """Delete notifications (id, user_id, read); their actors go by cascade."""
    touched: set[int] = set()
    for notification_id, user_id, read in found:
        conn.execute("DELETE FROM notifications WHERE id = ?", (notification_id,))
        if not read:
            bump(conn, user_id, UNREAD, -1)
        touched.add(user_id)
    return Outcome({user_id: unread_of(conn, user_id) for user_id in touched})


def _outcome(conn: sqlite3.Connection, user_id: int, notification_id: int) -> Outcome:
    row = conn.execute(f"SELECT {COLUMNS} FROM notifications WHERE id = ?", (notification_id,)).fetchone()
    return Outcome({user_id: unread_of(conn, user_id)}, row_of(row))

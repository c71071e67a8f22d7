"""Moderation: admins, reports, suspensions (no HTTP in here).

Idea: reports live on shard 0 (rare, read by admins as one list); a suspension is
a row on the user's shard mirrored in an in-memory set, consulted through hooks
that the accounts and graph services offer (`refuse_login`, `hidden_users`): a
suspended user cannot log in, their tokens stop working and everything that
resolves them treats them as missing.

In a cluster (docs/cluster.md) each change runs on the owner of its shard (`@owned`:
reports and admins on shard 0's, a suspension on the user's), and every instance keeps
the whole suspended set: a suspension tells every other instance at once (sync.py),
which reloads the set from every owner (one call per instance), and each instance
reloads it every sync.REFRESH_SECONDS anyway, for one that was down meanwhile.

Resolving a report on a comment or a message also trains the spam model (spam.py):
"remove" or "suspend" teaches its text as spam, "dismiss" as ordinary.

Cost: a set lookup per authenticated request and per profile or post shown; an
admin check is one indexed query on shard 0.
"""

from __future__ import annotations

import asyncio
import sqlite3

import msgspec

from ..cluster.forward import owned, owned_shards, shard_groups
from ..errors import Conflict, InvalidInput, NotFound
from ..ids import parse_id, shard_of

REPORTS_SHARD = 0
KINDS = ("post", "comment", "account", "message")
ACTIONS = ("dismiss", "remove", "suspend")
REPORT_COLUMNS = "id, reporter_id, kind, target_id, target_user_id, reason, status, action"


class Report(msgspec.Struct):
    id: int
    reporter_id: int
    kind: str
    target_id: int
    target_user_id: int
    reason: str
    status: str
    action: str | None


def _report(row: sqlite3.Row) -> Report:
    return Report(*(row[name] for name in REPORT_COLUMNS.split(", ")))


class ModerationService:
    def __init__(self, state) -> None:
        self.state, self.meta = state, state.meta
        self.suspended: set[int] = set()
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)
        self.announce = None  # sync.py's: tell the other instances what changed (a cluster only)

    async def load(self) -> None:
        """Every suspended user, from every owner (one call per instance). If an owner does not
        answer, what was known of its shards is kept and its error raised after the others'."""
        groups = shard_groups(self)
        parts = await asyncio.gather(*(self.suspended_on(group) for group in groups), return_exceptions=True)
        found, failed = set(), None
        for group, part in zip(groups, parts):
            if isinstance(part, BaseException):
                failed = part
                kept = set(group)
                found.update(user_id for user_id in self.suspended if shard_of(user_id) in kept)
            else:
                found.update(part)
        self.suspended = found
        if failed is not None:
            raise failed

    @owned_shards
    async def suspended_on(self, shards: list[int]) -> list[int]:
        found = []
        for shard in shards:
            found += [row["user_id"] for row in await self.meta.read(shard, "SELECT user_id FROM suspensions")]
        return found

    def refusal(self, user_id: int) -> str | None:
        return "this account is suspended" if user_id in self.suspended else None

    def is_suspended(self, user_id: int) -> bool:
        return user_id in self.suspended

    # -- admins ----------------------------------------------------------------------

    @owned(lambda self, *_: REPORTS_SHARD)
    async def is_admin(self, user_id: int) -> bool:
        row = await self.meta.read_one(REPORTS_SHARD, "SELECT 1 FROM admins WHERE user_id = ?", (user_id,))
        return row is not None

    @owned(lambda self, *_: REPORTS_SHARD)
    async def make_admin(self, user_id: int) -> None:
        await self.meta.write(
            REPORTS_SHARD, lambda conn: conn.execute("INSERT OR IGNORE INTO admins (user_id) VALUES (?)", (user_id,))
        )

    # -- suspensions -----------------------------------------------------------------

    @owned(lambda self, user_id: shard_of(user_id))
    async def suspend(self, user_id: int) -> None:
        await self.meta.write(
            shard_of(user_id), lambda conn: conn.execute("INSERT OR IGNORE INTO suspensions VALUES (?)", (user_id,))
        )
        self.suspended.add(user_id)
        hub = self.state.get("hub")
        if hub is not None:
            hub.close_user(user_id, 4403, "suspended")
        if self.announce is not None:
            await self.announce("suspensions")

    @owned(lambda self, user_id: shard_of(user_id))
    async def unsuspend(self, user_id: int) -> None:
        await self.meta.write(
            shard_of(user_id), lambda conn: conn.execute("DELETE FROM suspensions WHERE user_id = ?", (user_id,))
        )
        self.suspended.discard(user_id)
        if self.announce is not None:
            await self.announce("suspensions")

    # -- reports ---------------------------------------------------------------------

    @owned(lambda self, *_: REPORTS_SHARD)
    async def report(self, reporter_id: int, kind: str, target: str, reason: str) -> tuple[Report, bool]:
        """The report and whether it is new; an open one by the same reporter is reused."""
        target_id = parse_id(target)
        if target_id is None:
            raise NotFound(f"no {kind} {target}")
        target_user_id = await self._target_user(reporter_id, kind, target_id)
        open_key = f"{reporter_id}:{kind}:{target_id}"
        report_id = self.state.ids.next_id(REPORTS_SHARD)

        def insert(conn: sqlite3.Connection) -> tuple[sqlite3.Row, bool]:
            found = conn.execute(f"SELECT {REPORT_COLUMNS} FROM reports WHERE open_key = ?", (open_key,)).fetchone()
            if found is not None:
                return found, False
            conn.execute(
                "INSERT INTO reports (id, reporter_id, kind, target_id, target_user_id, reason, open_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (report_id, reporter_id, kind, target_id, target_user_id, reason, open_key),
            )
            return conn.execute(f"SELECT {REPORT_COLUMNS} FROM reports WHERE id = ?", (report_id,)).fetchone(), True

        row, created = await self.meta.write(REPORTS_SHARD, insert)
        return _report(row), created

    async def _target_user(self, reporter_id: int, kind: str, target_id: int) -> int:
        """The user responsible for the target, or NotFound if it is missing or hidden."""
        if shard_of(target_id) >= self.meta.shard_count:
            raise NotFound(f"no {kind} {target_id}")
        if kind == "post":
            return (await self.state.posts.visible_post(reporter_id, target_id)).author_id
        if kind == "comment":
            comment, _ = await self.state.comments._visible_comment(reporter_id, target_id)
            return comment.author_id
        if kind == "account":
            user = await self.state.accounts.get_user(target_id)
            try:
                if user is not None:
                    return (await self.state.graph.visible_user(reporter_id, user.username)).id
            except NotFound:
                pass  # blocked either way: the answer for a missing account, which names nobody
            raise NotFound(f"no account {target_id}")
        return await self._message_sender(reporter_id, target_id)

    @owned(lambda self, reporter_id, message_id: shard_of(message_id))
    async def _message_sender(self, reporter_id: int, message_id: int) -> int:
        row = None
        if self.state.get("messages") is not None:
            row = await self.meta.read_one(
                shard_of(message_id),
                "SELECT m.sender_id FROM messages m JOIN thread_members t"
                " ON t.thread_id = m.thread_id AND t.user_id = ? WHERE m.id = ?",
                (reporter_id, message_id),
            )
        if row is None:
            raise NotFound(f"no message {message_id}")
        return row["sender_id"]

    @owned(lambda self, *_: REPORTS_SHARD)
    async def list_reports(self, status: str, before: int, limit: int) -> list[Report]:
        rows = await self.meta.read(
            REPORTS_SHARD,
            f"SELECT {REPORT_COLUMNS} FROM reports WHERE status = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (status, before, limit),
        )
        return [_report(row) for row in rows]

    @owned(lambda self, *_: REPORTS_SHARD)
    async def resolve(self, admin_id: int, report_id: int, action: str) -> Report:
        report = await self._open_report(report_id)
        text = await self._text_of(report)  # read before a removal deletes it
        if action == "remove":
            await self._remove(report)
        elif action == "suspend":
            await self.suspend(report.target_user_id)

        def close(conn: sqlite3.Connection) -> sqlite3.Row:
            changed = conn.execute(
                "UPDATE reports SET status = 'resolved', action = ?, resolved_by = ?, open_key = NULL"
                " WHERE id = ? AND status = 'open'",
                (action, admin_id, report_id),
            ).rowcount
            if not changed:
                raise Conflict(f"report {report_id} is already resolved")
            return conn.execute(f"SELECT {REPORT_COLUMNS} FROM reports WHERE id = ?", (report_id,)).fetchone()

        resolved = _report(await self.meta.write(REPORTS_SHARD, close))
        spam = self.state.get("spam")
        if text is not None and spam is not None:  # learned once the report is closed: never twice
            await spam.train(text, spam=action != "dismiss")
        return resolved

    async def _text_of(self, report: Report) -> str | None:
        """The text of a reported comment or message (what the spam model learns from)."""
        if report.kind == "comment":
            return await self.state.comments.text_of(report.target_id)
        if report.kind == "message" and self.state.get("messages") is not None:
            return await self.state.messages.text_of(report.target_id)
        return None

    async def _open_report(self, report_id: int) -> Report:
        row = await self.meta.read_one(REPORTS_SHARD, f"SELECT {REPORT_COLUMNS} FROM reports WHERE id = ?", (report_id,))
        if row is None:
            raise NotFound(f"no report {report_id}")
        if row["status"] != "open":
            raise Conflict(f"report {report_id} is already resolved")
        return _report(row)

    async def _remove(self, report: Report) -> None:
        if report.kind == "post":
            await self.state.posts.remove(report.target_id)
        elif report.kind == "comment":
            await self.state.comments.remove(report.target_id)
        elif report.kind == "message" and self.state.get("messages") is not None:
            # Hidden from all but its sender, as spam is (see MessagesService.hide for why not deleted).
            await self.state.messages.hide(report.target_id)
        else:
            raise InvalidInput(f"a reported {report.kind} cannot be removed; suspend its author instead")

"""Edge operations and their mirrors: the one place that writes the graph.

A change between two users is a list of `EdgeOp`s seen from one side; its mirror
is the same change seen from the other side (`following` <-> `follower`,
`requested` <-> `request_from`, `blocking` <-> `blocked_by`). `apply_ops` runs
inside a shard's write transaction: adds are INSERT OR IGNORE and removes are
DELETE, and a counter moves only when a row really changed. Applying the same
ops twice is therefore harmless, which is what makes the outbox replay safe.
"""

from __future__ import annotations

import sqlite3

import msgspec

from ..stores.counters import bump

MIRROR = {
    "following": "follower",
    "follower": "following",
    "requested": "request_from",
    "request_from": "requested",
    "blocking": "blocked_by",
    "blocked_by": "blocking",
}
COUNTED = {"following": "following", "follower": "followers"}  # edge kind -> counter name


class EdgeOp(msgspec.Struct, array_like=True, frozen=True):
    add: bool
    src: int
    kind: str
    dst: int
    id: int = 0

    def mirrored(self) -> EdgeOp:
        return EdgeOp(self.add, self.dst, MIRROR[self.kind], self.src, self.id)


encode_ops = msgspec.msgpack.Encoder().encode
decode_ops = msgspec.msgpack.Decoder(list[EdgeOp]).decode


def apply_ops(conn: sqlite3.Connection, ops: list[EdgeOp]) -> int:
    """Apply ops idempotently; returns how many rows changed."""
    changed = 0
    for op in ops:
        if op.add:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO edges (src, kind, dst, id) VALUES (?, ?, ?, ?)", (op.src, op.kind, op.dst, op.id)
            )
        else:
            cursor = conn.execute("DELETE FROM edges WHERE src = ? AND kind = ? AND dst = ?", (op.src, op.kind, op.dst))
        if cursor.rowcount == 1:
            changed += 1
            if op.kind in COUNTED:
                bump(conn, op.src, COUNTED[op.kind], 1 if op.add else -1)
    return changed

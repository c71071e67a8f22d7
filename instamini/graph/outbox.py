"""The two halves of a graph change, and the outbox that carries the second one.

`GraphService` inherits this. A change between A and B is applied on A's shard
together with an outbox row holding B's half (`_change`); B's half is then applied
and the row deleted. The row is what survives a crash (`replay_outbox` at start)
and, in a cluster, an owner of B who does not answer (`run_once`, every few
seconds): a row is deleted only once B's half is in, and a pair's rows go in the
order they were written, the next waiting while an older one cannot land. A
delivery to another instance is `apply_half(b, a, ops)` with the row's encoded ops,
forwarded to B's owner; applying a half twice changes nothing (edges.py), so a
delivery whose answer was lost is simply made again.

Changes and deliveries run under the pair's lock on the instance that runs the
pair (service.py says which), and `apply_half` is called only from there, so the
other owner gets a pair's halves in the order they were made.

Cost: one INSERT and one DELETE beside the change; in a cluster one round trip to
B's owner per change. A retry round costs one query per owned shard when nothing
waits, and one failed attempt per instance that is down.
"""

from __future__ import annotations

import logging
import sqlite3

from ..cluster.errors import RpcError
from ..cluster.forward import local_shards, owned
from ..errors import InvalidInput
from ..ids import shard_of
from .edges import EdgeOp, apply_ops, decode_ops, encode_ops

log = logging.getLogger(__name__)


def _write_with_outbox(conn: sqlite3.Connection, a: int, b: int, ops: list[EdgeOp], mirror: list[EdgeOp]) -> int:
    apply_ops(conn, ops)
    return conn.execute(
        "INSERT INTO graph_outbox (src, dst, shard, ops) VALUES (?, ?, ?, ?)", (a, b, shard_of(b), encode_ops(mirror))
    ).lastrowid


class OutboxMixin:
    """The halves and their delivery; the service provides meta, cluster, _here, _lock and _invalidate."""

    async def _change(self, a: int, b: int, ops: list[EdgeOp]) -> None:
        """Apply ops (seen from a) on a's shard and their mirror on b's, durably. Hold the pair lock."""
        mirror = [op.mirrored() for op in ops]
        if not self._here(shard_of(a)):  # this instance runs the pair for b: b's half goes first
            a, b, ops, mirror = b, a, mirror, ops
        shard_a, shard_b = shard_of(a), shard_of(b)
        if shard_a == shard_b:
            await self.meta.write(shard_a, lambda conn: apply_ops(conn, ops + mirror))
        elif self._here(shard_b):
            outbox_id = await self.meta.write(shard_a, lambda conn: _write_with_outbox(conn, a, b, ops, mirror))
            await self.meta.write(shard_b, lambda conn: apply_ops(conn, mirror))
            await self._delete_outbox(shard_a, outbox_id)
        else:
            await self.meta.write(shard_a, lambda conn: _write_with_outbox(conn, a, b, ops, mirror))
            self._invalidate(a, b)  # this side now; b's owner does its own when its half lands
            await self._deliver_pair(shard_a, a, b)
            return
        self._invalidate(a, b)

    @owned(lambda self, user_id, *_: shard_of(user_id))
    async def apply_half(self, user_id: int, other_id: int, ops: bytes) -> None:
        """Apply the half of a change that is user_id's (`ops`: encoded EdgeOps from their side),
        sent by the instance that runs the pair; applying it twice changes nothing."""
        decoded = decode_ops(ops)
        if any(op.src != user_id for op in decoded):
            raise InvalidInput("a half holds only its own user's edges")
        await self.meta.write(shard_of(user_id), lambda conn: apply_ops(conn, decoded))
        self._invalidate(user_id, other_id)

    async def _delete_outbox(self, shard: int, outbox_id: int) -> None:
        await self.meta.write(shard, lambda conn: conn.execute("DELETE FROM graph_outbox WHERE id = ?", (outbox_id,)))

    async def _deliver_pair(self, shard: int, a: int, b: int) -> tuple[int, bool]:
        """Deliver every half waiting for (a, b) on `shard`, oldest first, stopping at the first
        not taken (an older half must not land after a newer one). Hold the pair lock: the rows
        are read under it, so a row that a change finished meanwhile is not there any more.
        Returns how many landed, and whether all did."""
        rows = await self.meta.read(
            shard, "SELECT id, shard, ops FROM graph_outbox WHERE src = ? AND dst = ? ORDER BY id", (a, b)
        )
        for landed, row in enumerate(rows):
            if self._here(row["shard"]):  # both sides ours: only a crash left this row
                mirror = decode_ops(row["ops"])
                await self.meta.write(row["shard"], lambda conn, ops=mirror: apply_ops(conn, ops))
                await self._delete_outbox(shard, row["id"])
                self._invalidate(a, b)
            elif not await self._send(shard, row["id"], a, b, row["ops"]):
                return landed, False
        return len(rows), True

    async def _send(self, shard: int, outbox_id: int, a: int, b: int, ops: bytes) -> bool:
        """Give b's owner its half; the row goes once it is taken. False if it was not (it stays)."""
        try:
            await self.apply_half(b, a, ops)
        except RpcError as error:
            log.warning("graph: %s; the half for user %d waits in the outbox", error, b)
            return False
        except Exception:  # whatever it was, the row stays for the next round
            log.exception("graph: the half for user %d was refused; it waits in the outbox", b)
            return False
        await self._delete_outbox(shard, outbox_id)
        return True

    # -- recovery and retries -----------------------------------------------------------

    async def replay_outbox(self) -> int:
        """Apply every other-side half left behind by a crash that this instance applies
        itself (both sides its own). Returns how many. Runs at start, before serving."""
        return await self.run_once(remote=False)

    async def run_once(self, *, remote: bool = True) -> int:
        """One round over the outbox on this instance's shards; returns how many halves landed.

        An instance that did not answer is not asked again this round."""
        shards = local_shards(self)
        delivered, silent = 0, set()
        for shard in shards:
            pairs = await self.meta.read(
                shard, "SELECT src, dst, shard FROM graph_outbox GROUP BY src, dst, shard ORDER BY min(id)"
            )
            for pair in pairs:
                owner = None if self._here(pair["shard"]) else self.cluster.topology.owner_of(pair["shard"])
                if owner is not None and (not remote or owner in silent):
                    continue
                async with self._lock(pair["src"], pair["dst"]):
                    landed, complete = await self._deliver_pair(shard, pair["src"], pair["dst"])
                delivered += landed
                if not complete:
                    silent.add(owner)
        return delivered

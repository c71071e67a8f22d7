"""Moving a logical shard to another instance while the cluster serves: the procedures.

The idea (Instagram's logical shards moved between servers as whole databases): a
shard is one SQLite file, so moving it is a consistent copy of that file plus a change
of the map, and the only hard part is not losing a write that was acknowledged. The
protocol, driven by `python -m instamini admin move-shard SHARD INSTANCE`
(cluster/move_driver.py) with one `move` id per attempt:

    1. freeze    on the source (the owner): its shard writer refuses new writes with
                 ShardMoving (HTTP 503, Retry-After: 1), the writes already queued commit
                 (they were or will be acknowledged), then a snapshot is taken with
                 SQLite's backup API into shard-NNNN.sqlite.outgoing: size and sha256.
    2. pull      on the target: it reads the snapshot from the source in chunks
                 (cluster.move.chunk, at most 4 MB each), checks size, sha256 and
                 PRAGMA integrity_check, then puts it in place of its own (empty) copy
                 of the shard by an atomic rename, keeping that copy beside it as
                 shard-NNNN.sqlite.before-move, and reopens the shard.
    3. switch    cluster.adopt_map with the new map (one version up) on the source
                 FIRST: it accepts only while its freeze for this move still holds (a
                 restarted source has lost it and may have taken writes since), and once
                 it has adopted, it will never write the shard again, even after a
                 restart (the map is saved). That is the moment the move is made. Then
                 the target, then every other instance. A map older than an instance's
                 own is refused; the same map again is a no-op, so a re-run can finish
                 an interrupted switch.
    4. blobs     the target copies the blobs the moved rows use and takes their
                 references (move_blobs.py: `cluster.move.take_blobs`).
    5. finish    the source deletes its snapshot and keeps the shard frozen: a call that
                 still reaches it under the old map gets a 503, not a write into a file
                 nobody reads. Its old file stays as it was at the freeze. If the target
                 took the blobs, the source lets go of their references.

Before the switch, any failure is undone (cluster.move.unfreeze on the source, which
answers "switched" instead if it had adopted after all; cluster.move.discard on the
target, which puts its previous file back), and the map stays as it was. Between the
source's switch and the others', the source forwards to the target, and a write that an
instance with the old map forwards to the source is refused there (503; a read sees the
shard as of the freeze): no write can land in two places. An instance gives up a shard
only while the shard is frozen on it, whatever the map pushed to it says.
A freeze lifts itself once no chunk has been read for its lease (120 s, given by the
command) and no switch came, so a command that died cannot leave a shard refusing
writes; its switch would then be refused.

Cost: writes to the moving shard are refused for the freeze (drain + snapshot + copy +
switch: tens of milliseconds for a small shard, about the copy time for a big one);
every other shard keeps serving. One extra read of the file for the snapshot, one for
the hash on each side and one for the integrity check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..stores.backup import ShardCopy, snapshot_shard, verify_copy
from .errors import NotMyShard, ProcedureError, TopologyError
from .move_blobs import BlobHandover
from .move_schemas import (
    Adopted, AdoptArgs, ChunkArgs, FinishArgs, FreezeArgs, Frozen, Installed, MapInfo, MoveRef, PullArgs,
)
from .registry import RpcRegistry
from .topology import Topology

log = logging.getLogger(__name__)
CHUNK_TIMEOUT = 30.0  # seconds for one chunk, asked again on a timeout (a read)


@dataclass
class _Outgoing:
    move: str
    path: Path
    copy: ShardCopy
    lease_seconds: float
    expires: float  # loop time; pushed back by every chunk read


class ShardMover:
    """One instance's side of every move: as a source, as a target, and as a holder of the map."""

    def __init__(self, node: Any, meta: Any, cache: Any = None, blobs: Any = None) -> None:
        self.node, self.meta, self.cache = node, meta, cache
        # The shard's blobs go with it (move_blobs.py); None without a blob store.
        self.blobs = BlobHandover(node, meta, blobs) if blobs is not None else None
        self.outgoing: dict[int, _Outgoing] = {}  # shard -> the snapshot this source serves
        self.incoming: dict[int, str] = {}  # shard -> the move installed here, not switched yet
        self.pulling: str | None = None  # the move whose copy this target is downloading now
        self._locks: dict[int, asyncio.Lock] = {}
        self._expiring: asyncio.Task | None = None  # held: the loop keeps only weak references to tasks
        # Left by a move that a stop interrupted: never complete, never needed.
        for suffix in (".outgoing", ".incoming"):
            for leftover in self.meta.root.glob(f"shard-*.sqlite{suffix}"):
                leftover.unlink(missing_ok=True)

    def register(self, registry: RpcRegistry) -> None:
        for name, handler in [
            ("cluster.map", self.map), ("cluster.adopt_map", self.adopt_map),
            ("cluster.move.freeze", self.freeze), ("cluster.move.chunk", self.chunk),
            ("cluster.move.pull", self.pull), ("cluster.move.finish", self.finish),
            ("cluster.move.unfreeze", self.unfreeze), ("cluster.move.discard", self.discard),
        ]:
            registry.register(name, handler)
        if self.blobs is not None:
            registry.register("cluster.move.take_blobs", self.blobs.take)
            registry.register("cluster.move.blob_references", self.blobs.references_page)
            registry.register("cluster.move.blob", self.blobs.serve_chunk)

    def _file(self, shard: int, suffix: str) -> Path:
        return self.meta.root / f"shard-{shard:04d}.sqlite{suffix}"

    def _refuse_a_second_move(self) -> None:
        """One move at a time on an instance: while it serves a snapshot (a source until the
        switch, or until its freeze lease lapses) or downloads one, it starts no other.
        Two moves between different instances are kept apart by the map versions instead:
        the second switch to the same version is refused ("conflicting_map") and undone."""
        if self.outgoing:
            shard, outgoing = next(iter(self.outgoing.items()))
            raise ProcedureError("busy", f"{self.node.topology.local!r} is the source of move {outgoing.move} "
                                         f"(shard {shard}); one move at a time")
        if self.pulling is not None:
            raise ProcedureError("busy", f"{self.node.topology.local!r} is copying move {self.pulling}; one move at a time")

    def _lock(self, shard: int) -> asyncio.Lock:
        return self._locks.setdefault(shard, asyncio.Lock())

    def _checked(self, shard: int) -> Topology:
        topology = self.node.topology
        if shard >= topology.shard_count:
            raise ProcedureError("bad_args", f"shard {shard} is outside 0-{topology.shard_count - 1}")
        return topology

    async def map(self) -> MapInfo:
        topology = self.node.topology
        frozen = [index for index in range(self.meta.shard_count) if self.meta.is_frozen(index)]
        return MapInfo(topology.local, topology.version, topology.shard_count, topology.ranges(), frozen)

    # -- the source ---------------------------------------------------------------------

    async def freeze(self, args: FreezeArgs) -> Frozen:
        async with self._lock(args.shard):
            topology = self._checked(args.shard)
            if not topology.is_local(args.shard):
                raise NotMyShard(args.shard, topology.owner_of(args.shard))
            if (busy := self.outgoing.get(args.shard)) is not None:
                raise ProcedureError("busy", f"shard {args.shard} is already moving (move {busy.move})")
            self._refuse_a_second_move()
            started = time.perf_counter()
            path = self._file(args.shard, ".outgoing")
            try:
                queued = await self.meta.freeze(args.shard, f"shard {args.shard} is moving to another instance; retry")
                drained = time.perf_counter()
                path.unlink(missing_ok=True)
                copy = await asyncio.to_thread(snapshot_shard, self.meta.shards[args.shard].path, path)
                if copy.integrity != "ok":
                    raise ProcedureError("corrupt", f"shard {args.shard} fails integrity_check: {copy.integrity}")
            except BaseException:
                self.meta.unfreeze(args.shard)
                path.unlink(missing_ok=True)
                raise
            loop = asyncio.get_running_loop()
            self.outgoing[args.shard] = _Outgoing(args.move, path, copy, args.lease_seconds,
                                                  loop.time() + args.lease_seconds)
            loop.call_later(args.lease_seconds, self._expire, MoveRef(args.shard, args.move))
            log.warning("shard %d frozen for move %s: %d bytes, %d queued writes committed first",
                        args.shard, args.move, copy.bytes, queued)
            return Frozen(copy.bytes, copy.sha256, queued, drained - started, time.perf_counter() - drained)

    def _expire(self, ref: MoveRef) -> None:
        outgoing = self.outgoing.get(ref.shard)
        if outgoing is None or outgoing.move != ref.move or not self.node.topology.is_local(ref.shard):
            return  # finished, undone, or switched (and then frozen for good)
        loop = asyncio.get_running_loop()
        if loop.time() < outgoing.expires:  # chunks were read meanwhile: the copy is going on
            loop.call_later(outgoing.expires - loop.time(), self._expire, ref)
            return
        log.warning("the freeze of shard %d for move %s expired before the switch: unfrozen", ref.shard, ref.move)
        self._expiring = loop.create_task(self.unfreeze(ref))

    async def chunk(self, args: ChunkArgs) -> bytes:
        outgoing = self.outgoing.get(args.shard)
        if outgoing is None or outgoing.move != args.move:
            raise ProcedureError("no_such_move", f"no snapshot of shard {args.shard} for move {args.move} here")
        outgoing.expires = asyncio.get_running_loop().time() + outgoing.lease_seconds
        return await asyncio.to_thread(_read_at, outgoing.path, args.offset, args.size)

    async def finish(self, args: FinishArgs) -> None:
        """After the switch: drop the snapshot and, once the target has taken them, the moved
        shard's blob references (once: a second finish finds no snapshot); the shard stays
        frozen here."""
        outgoing = self.outgoing.get(args.shard)
        if outgoing is None or outgoing.move != args.move or self.node.topology.is_local(args.shard):
            return
        del self.outgoing[args.shard]
        outgoing.path.unlink(missing_ok=True)
        if args.release_blobs and self.blobs is not None:
            released = await self.blobs.release(args.shard, args.move)
            log.warning("shard %d moved away: its references to %d blobs were released here", args.shard, released)

    async def unfreeze(self, args: MoveRef) -> str:
        """Undo a freeze: "unfrozen", or "switched" when this instance had adopted the new map after all."""
        async with self._lock(args.shard):
            topology = self._checked(args.shard)
            if not topology.is_local(args.shard):
                return "switched"  # unfreezing would let writes into a file nobody reads any more
            outgoing = self.outgoing.get(args.shard)
            if outgoing is not None and outgoing.move != args.move:
                raise ProcedureError("busy", f"shard {args.shard} is frozen for another move ({outgoing.move})")
            if outgoing is not None:
                del self.outgoing[args.shard]
                outgoing.path.unlink(missing_ok=True)
            self.meta.unfreeze(args.shard)
            return "unfrozen"

    # -- the target ---------------------------------------------------------------------

    async def pull(self, args: PullArgs) -> Installed:
        async with self._lock(args.shard):
            topology = self._checked(args.shard)
            if topology.is_local(args.shard):
                raise ProcedureError("bad_args", f"shard {args.shard} is already on {topology.local!r}")
            if args.source not in topology.names or args.source == topology.local:
                raise ProcedureError("bad_args", f"{args.source!r} is not another instance of the map")
            self._refuse_a_second_move()
            started = time.perf_counter()
            incoming, previous = self._file(args.shard, ".incoming"), self._file(args.shard, ".before-move")
            self.pulling = args.move
            try:
                chunks = await self._download(args, incoming)
                expected = ShardCopy(incoming.name, args.bytes, args.sha256, "ok")
                if problems := await asyncio.to_thread(verify_copy, incoming, expected):
                    raise ProcedureError("bad_copy", "; ".join(problems))
                # A copy left by an earlier attempt is not kept: `previous` stays the file from before any.
                keep = None if previous.exists() else previous
                await self.meta.replace_shard(args.shard, incoming, keep_previous=keep)
            finally:
                self.pulling = None
                incoming.unlink(missing_ok=True)  # already gone once it is in place
            self.incoming[args.shard] = args.move
            return Installed(args.bytes, chunks, time.perf_counter() - started)

    async def _download(self, args: PullArgs, path: Path) -> int:
        digest, offset, chunks = hashlib.sha256(), 0, 0
        with open(path, "wb") as file:
            while offset < args.bytes:
                size = min(args.chunk_bytes, args.bytes - offset)
                data = await self.node.client.call(
                    args.source, "cluster.move.chunk", ChunkArgs(args.shard, args.move, offset, size),
                    result_type=bytes, idempotent=True, timeout=CHUNK_TIMEOUT,
                )
                if len(data) != size:
                    raise ProcedureError("bad_copy", f"chunk at {offset}: {len(data)} bytes instead of {size}")
                digest.update(data)
                await asyncio.to_thread(file.write, data)
                offset, chunks = offset + size, chunks + 1
            await asyncio.to_thread(_flush, file)
        if digest.hexdigest() != args.sha256:  # and verify_copy hashes it again, from the disk
            raise ProcedureError("bad_copy", f"the bytes received do not hash to {args.sha256}")
        return chunks

    async def discard(self, args: MoveRef) -> str:
        """Undo an install before the switch: "restored", "nothing" (none was made), or "switched"."""
        async with self._lock(args.shard):
            if self._checked(args.shard).is_local(args.shard):
                return "switched"
            self.incoming.pop(args.shard, None)
            previous = self._file(args.shard, ".before-move")
            if not previous.exists():
                return "nothing"
            await self.meta.replace_shard(args.shard, previous)
            return "restored"

    # -- every instance: the switch -----------------------------------------------------

    async def adopt_map(self, args: AdoptArgs) -> Adopted:
        if args.move is None:  # a re-run pushing the map that some instance already has
            return self._adopt(args)
        async with self._lock(args.move.shard):
            return self._adopt(args)

    def _adopt(self, args: AdoptArgs) -> Adopted:
        current = self.node.topology
        try:
            new = Topology.from_ranges(current.local, current.instances, args.ranges, current.shard_count,
                                       version=args.version, key="cluster.adopt_map")
        except TopologyError as error:
            raise ProcedureError("bad_args", str(error)) from None
        if new.version < current.version:
            raise ProcedureError("stale_map", f"map version {new.version} is older than the version "
                                              f"{current.version} of {current.local!r}")
        if new.version == current.version:
            if new.owners == current.owners:
                return Adopted(current.local, current.version, False)
            raise ProcedureError("conflicting_map", f"{current.local!r} has another map with version {new.version}")
        gained = set(new.local_shards) - set(current.local_shards)
        lost = set(current.local_shards) - set(new.local_shards)
        move = args.move
        for shard in lost:  # giving up an unfrozen shard would drop the writes it takes meanwhile
            outgoing = self.outgoing.get(shard)
            if not self.meta.is_frozen(shard) or move is not None and shard == move.shard and (
                    outgoing is None or outgoing.move != move.move):
                raise ProcedureError("not_frozen", f"shard {shard} is not frozen here for this move (restarted, or "
                                                   "the freeze expired): writes may have come in since the copy")
        if move is not None and move.shard in gained and self.incoming.get(move.shard) != move.move:
            raise ProcedureError("not_installed", f"no copy of shard {move.shard} is installed here for move {move.move}")
        self.node.adopt(new)  # saved durably, then in force; nothing is awaited in between
        for shard in lost:
            # Frozen for good: a write that still reaches this instance under the old map is refused.
            self.meta.shards[shard].writer.freeze(f"shard {shard} has moved to {new.owner_of(shard)!r}; retry")
        for shard in gained:
            self.incoming.pop(shard, None)
            self._file(shard, ".before-move").unlink(missing_ok=True)
        if gained and self.cache is not None:
            # This instance may have owned a gained shard before and still hold its entries as
            # they were then (a session since revoked, an old count): the cache is disposable,
            # so it is emptied and refills from the shards, the new one included.
            self.cache.clear()
        log.warning("adopted cluster map version %d: %s", new.version, new.ranges())
        return Adopted(new.local, new.version, True)


def _read_at(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as file:
        file.seek(offset)
        return file.read(size)


def _flush(file) -> None:
    file.flush()
    os.fsync(file.fileno())

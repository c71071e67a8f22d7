"""`admin move-shard SHARD INSTANCE`: the steps of a shard move, driven from outside by RPC.

The command is a client of the running cluster, nothing more: it signs its calls with
the cluster secret of the config it was given (any instance's) and runs the protocol of
cluster/shard_move.py step by step, printing each. It holds no state of its own, so
it may run anywhere the instances can be reached, and running it again after an
interruption finishes what was started: it first pushes the newest map any instance
holds to the ones that lag behind.

Exit status: 0 moved; 2 refused before anything changed (unknown instance, bad shard
number, the shard already there); 1 failed (unreachable instance, a step failed and
was undone, or the switch was made on some instances only, which the output says).

Cost: a few RPCs, plus the copy itself (the target pulls it from the source).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from .errors import RpcCallFailed, RpcError
from .move_schemas import (
    MAX_CHUNK, Adopted, AdoptArgs, BlobsTaken, FinishArgs, FreezeArgs, Frozen, Installed, MapInfo, MoveRef, PullArgs,
    TakeArgs,
)
from .topology import Instance, Topology

CHUNK_BYTES = 1 << 20
STEP_TIMEOUT = 120.0  # a freeze (drain and snapshot), an adopt: seconds
COPY_RATE = 20 << 20  # bytes per second the pull is given, at least, before it counts as failed
BLOBS_TIMEOUT = 3600.0  # for the target to copy the shard's blobs it lacks (after the switch: nothing waits on it)
# What a source answers when it refused to freeze: then this attempt changed nothing.
FREEZE_REFUSALS = ("busy", "not_my_shard", "bad_args", "unknown_procedure")
assert CHUNK_BYTES <= MAX_CHUNK


class Refused(Exception):
    """The move will not be tried; nothing was changed (exit status 2)."""


class Failed(Exception):
    """The move failed; the message says what state it left (exit status 1)."""


class MoveDriver:
    """`await MoveDriver(client, instances, print).run("3", "b")`: raises Refused or Failed, else moved.

    `client` needs only `call(instance, procedure, args, result_type=, timeout=)`, as RpcClient has."""

    def __init__(self, client: Any, instances: Sequence[Instance], say: Callable[[str], None]) -> None:
        self.client, self.instances, self.say = client, tuple(instances), say
        self.names = [instance.name for instance in instances]

    async def _call(self, instance: str, procedure: str, args: Any, result_type: Any,
                    timeout: float = STEP_TIMEOUT) -> Any:
        return await self.client.call(instance, procedure, args, result_type=result_type, timeout=timeout)

    async def _on_each(self, names: list[str], procedure: str, args: Any, result_type: Any,
                       timeout: float = STEP_TIMEOUT) -> tuple[list[Any], list[str]]:
        """The answers of every instance at once, and "name: error" for those that failed."""
        answers = await asyncio.gather(*(self._call(name, procedure, args, result_type, timeout) for name in names),
                                       return_exceptions=True)
        failures = [f"{name}: {answer}" for name, answer in zip(names, answers) if isinstance(answer, BaseException)]
        return answers, failures

    async def run(self, shard_text: str, target: str) -> None:
        """Raises Refused or Failed; returns when the shard is on `target` in every instance's map."""
        if target not in self.names:
            raise Refused(f"no instance is named {target!r} (the config names {', '.join(self.names)})")
        if not shard_text.isascii() or not shard_text.isdigit():
            raise Refused(f"{shard_text!r} is not a shard number")
        shard = int(shard_text)
        topology = await self._agreed_map()
        if shard >= topology.shard_count:
            raise Refused(f"shard {shard} is outside 0-{topology.shard_count - 1} (the cluster has "
                          f"{topology.shard_count} logical shards)")
        source = topology.owner_of(shard)
        if source == target:
            raise Refused(f"shard {shard} is already on instance {target!r} (map version {topology.version})")
        new = topology.with_shard_moved(shard, target)
        move = MoveRef(shard, secrets.token_hex(8))
        self.say(f"moving shard {shard} from {source} to {target} (map version {topology.version} -> {new.version}, "
                 f"move {move.move})")
        await self._move(move, source, target, topology, new)

    async def _agreed_map(self) -> Topology:
        """The map in force, from every instance; one that only some hold (an interrupted move) is pushed first."""
        maps, failures = await self._on_each(self.names, "cluster.map", None, MapInfo, timeout=10.0)
        if failures:
            raise Failed("cannot ask every instance for its map, so nothing was changed:\n  " + "\n  ".join(failures))
        newest = max(maps, key=lambda info: info.version)
        if others := [info for info in maps if info.version == newest.version and info.ranges != newest.ranges]:
            raise Failed(f"{newest.instance} and {others[0].instance} hold different maps with version "
                         f"{newest.version}; nothing was changed")
        if lagging := [info.instance for info in maps if info.version < newest.version]:
            self.say(f"map version {newest.version} is not on {', '.join(lagging)} yet (an interrupted move): "
                     "pushing it")
            await self._push(AdoptArgs(newest.version, newest.ranges), lagging)
        return Topology.from_ranges(self.names[0], self.instances, newest.ranges, newest.shard_count,
                                    version=newest.version)

    async def _push(self, args: AdoptArgs, names: list[str]) -> None:
        _, failures = await self._on_each(names, "cluster.adopt_map", args, Adopted)
        if failures:
            raise Failed(f"map version {args.version} is not adopted everywhere yet; run the command again to push "
                         "it:\n  " + "\n  ".join(failures))

    async def _move(self, move: MoveRef, source: str, target: str, old: Topology, new: Topology) -> None:
        shard, started = move.shard, time.perf_counter()
        frozen = None
        try:
            # The freeze lifts itself if no chunk is read for this long (a command that died).
            freeze = FreezeArgs(shard, move.move, lease_seconds=STEP_TIMEOUT)
            frozen = await self._call(source, "cluster.move.freeze", freeze, Frozen)
            self.say(f"1/5 froze shard {shard} on {source}: new writes to it get 503, {frozen.queued_writes} queued "
                     f"writes committed ({frozen.drain_seconds * 1000:.1f} ms); snapshot {frozen.bytes:,} bytes, "
                     f"sha256 {frozen.sha256[:16]}... ({frozen.snapshot_seconds * 1000:.1f} ms)")
            copy_timeout = STEP_TIMEOUT + frozen.bytes / COPY_RATE
            installed = await self._call(
                target, "cluster.move.pull",
                PullArgs(shard, move.move, source, frozen.bytes, frozen.sha256, CHUNK_BYTES), Installed, copy_timeout,
            )
            self.say(f"2/5 {target} pulled it in {installed.chunks} chunks of at most {CHUNK_BYTES >> 20} MB, checked "
                     f"its sha256 and integrity, and put it in place of its own copy ({installed.seconds * 1000:.1f} ms)")
            # The switch: the source first, which accepts only while its freeze holds.
            await self._call(source, "cluster.adopt_map", AdoptArgs(new.version, new.ranges(), move), Adopted)
        except (Exception, asyncio.CancelledError) as error:  # Ctrl-C too: undo before leaving
            if frozen is None and isinstance(error, RpcCallFailed) and error.code in FREEZE_REFUSALS:
                raise Failed(f"{error}\nnothing was changed (map version {old.version})") from None
            raise await self._undo(move, source, target, old, new, error) from None
        others = [name for name in self.names if name not in (source, target)]
        self.say(f"3/5 switched: {source} adopted map version {new.version} and forwards shard {shard} to {target}")
        await self._push(AdoptArgs(new.version, new.ranges(), move), [target])
        await self._push(AdoptArgs(new.version, new.ranges()), others)
        frozen_seconds = time.perf_counter() - started
        self.say(f"    every instance ({', '.join(self.names)}) has map version {new.version}")
        taken = await self._take_blobs(move, source, target)
        try:
            await self._call(source, "cluster.move.finish", FinishArgs(shard, move.move, taken), None)
            released = f" and let go of the blobs' references {target} took" if taken else ""
            self.say(f"5/5 {source} deleted its snapshot{released}; shard {shard} stays frozen there "
                     f"(it is {target}'s now)")
        except RpcError as error:
            self.say(f"5/5 {source} could not delete its snapshot ({error}); it goes at its next start")
        self.say(f"moved shard {shard} from {source} to {target}: {frozen.bytes:,} bytes copied, writes to it "
                 f"refused for {frozen_seconds * 1000:.0f} ms, map version {new.version}")

    async def _take_blobs(self, move: MoveRef, source: str, target: str) -> bool:
        """The target copies the shard's blobs it lacks and takes their references
        (cluster/move_blobs.py); False if it could not, and then the source keeps its own."""
        try:
            taken = await self._call(target, "cluster.move.take_blobs", TakeArgs(move.shard, move.move, source),
                                     BlobsTaken, BLOBS_TIMEOUT)
        except RpcError as error:
            why = ("it keeps no blobs" if isinstance(error, RpcCallFailed) and error.code == "unknown_procedure"
                   else f"it could not take them: {error}")
            self.say(f"4/5 {target} did not take the shard's blobs ({why}); {source} keeps them and serves them")
            return False
        missing = f"; {taken.missing} held by no instance" if taken.missing else ""
        self.say(f"4/5 {target} took the references to the {taken.referenced} blobs the shard's media use, copying "
                 f"{taken.copied} it lacked ({taken.copied_bytes:,} bytes) from {source}{missing}")
        return True

    async def _undo(self, move: MoveRef, source: str, target: str, old: Topology, new: Topology,
                    error: BaseException) -> Failed:
        """Put things back after a failure before the switch; the Failed to raise says how it went."""
        reason = "interrupted" if isinstance(error, asyncio.CancelledError) else str(error)
        try:
            state = await self._call(source, "cluster.move.unfreeze", move, str)
        except RpcError as failure:
            return Failed(f"{reason}\nand shard {move.shard} could not be unfrozen on {source} ({failure}): its "
                          f"writes stay refused until the freeze expires ({STEP_TIMEOUT:.0f} s) or it restarts; the "
                          f"map is unchanged (version {old.version})")
        if state == "switched":  # the source's answer to the switch was lost, not the switch
            await self._push(AdoptArgs(new.version, new.ranges(), move), [target])
            await self._push(AdoptArgs(new.version, new.ranges()), [name for name in self.names
                                                                     if name not in (source, target)])
            return Failed(f"{reason}\nbut the switch had been made: shard {move.shard} is on {target}, map version "
                          f"{new.version} everywhere; {source} keeps its snapshot until its next start")
        try:
            discarded = await self._call(target, "cluster.move.discard", move, str)
            done = {"restored": f"{target} put its own copy back", "nothing": f"{target} had installed nothing"}.get(
                discarded, f"{target} answered {discarded!r}")
        except RpcError as failure:
            done = f"{target} could not be asked to put its own copy back ({failure})"
        return Failed(f"{reason}\nundone: shard {move.shard} unfrozen on {source}, {done}; "
                      f"the map is unchanged (version {old.version})")

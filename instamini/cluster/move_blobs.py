"""A moved shard's blobs go with it: the new owner copies them and takes over their references.

The idea: a blob lives on the instance that received its upload, and its reference count
there says how many media rows use it (one per variant). When a shard moves, its media
rows move, and their references must move too. Otherwise the old owner keeps the files
for good (it never hears of the deletes, which now happen on the new owner), and the new
owner needs the old one to serve them, so it loses them once the old one is retired.
So, after the switch of cluster/shard_move.py (the shard's writes already go to the
new owner: none of this holds them up):

    take     (target)  asks the source, page by page, how many references the shard made
                       as it was frozen (`cluster.move.blob_references`, read off the
                       source's frozen file: exactly the rows that moved), copies every
                       blob it does not hold from the source (`cluster.move.blob`, in
                       chunks; the store names a blob by its sha256, so a bad copy cannot
                       pass for the file), and adds the counts to its own.
    release  (source)  once the target has taken them (`finish` with `release_blobs`):
                       takes the same counts off its own, but never below what the shards
                       it still owns reference, a floor that protects the files its own
                       rows use whatever the moved shard's history was.

Every race leaves a count too high (a leak: the safe direction), never too low: a post
deleted on the new owner before `take` had added its references gives back nothing (the
count stays one high); a `take` or `release` cut by a stop is not done again. A blob that
the source does not hold (a shard moved before blobs went along) is asked of the other
instances; one that nobody holds is counted as missing and skipped.

Cost: one scan of the shard's media rows on the source (kept for the move), and one of its
other shards for the floor; a copy of each blob the target lacks, 1 MB per call.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from typing import Any

import msgspec

from ..stores.blobs import BlobNotFound
from .errors import ProcedureError, RpcError
from .move_schemas import MAX_CHUNK, BlobChunkArgs, BlobsTaken, ReferencesPage, TakeArgs

log = logging.getLogger(__name__)
BLOB_CHUNK = 1 << 20  # bytes per cluster.move.blob answer
PAGE = 5000  # references per cluster.move.blob_references answer
_variants = msgspec.json.Decoder(list[dict[str, Any]]).decode
assert BLOB_CHUNK <= MAX_CHUNK


async def shard_references(meta: Any, shards: Iterable[int]) -> Counter[str]:
    """How many references the media rows of these shards make to each blob (one per variant)."""
    counts: Counter[str] = Counter()
    for shard in shards:
        if not await meta.read(shard, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'media'"):
            continue  # the media module was never on here: no references
        for row in await meta.read(shard, "SELECT variants FROM media WHERE variants != '[]'"):
            counts.update(variant["key"] for variant in _variants(row["variants"]))
    return counts


class BlobHandover:
    """The blob side of a move, for ShardMover: the source's `references_page`, `serve_chunk`
    and `release`; the target's `take`. Each happens once per move (in memory)."""

    def __init__(self, node: Any, meta: Any, blobs: Any) -> None:
        self.node, self.meta, self.blobs = node, meta, blobs
        self._moved: dict[str, list[tuple[str, int]]] = {}  # move -> the moved shard's references, sorted (source)
        self._taken: set[str] = set()  # moves whose references this target took

    def _moved_away(self, shard: int) -> None:
        if self.node.topology.is_local(shard):
            raise ProcedureError("not_switched", f"shard {shard} is still {self.node.topology.local!r}'s")

    # -- the source ---------------------------------------------------------------------

    async def _references(self, shard: int, move: str) -> list[tuple[str, int]]:
        if move not in self._moved:  # read off the frozen file: the rows as they moved
            self._moved[move] = sorted((await shard_references(self.meta, [shard])).items())
        return self._moved[move]

    async def references_page(self, args: ReferencesPage) -> list[tuple[str, int]]:
        self._moved_away(args.shard)
        moved = await self._references(args.shard, args.move)
        start = bisect.bisect_right(moved, args.after, key=lambda item: item[0])
        return moved[start : start + PAGE]

    async def serve_chunk(self, args: BlobChunkArgs) -> bytes:
        try:
            return await self.blobs.read(args.key, args.offset, args.offset + args.size)
        except BlobNotFound:
            raise ProcedureError("no_such_blob", f"no blob {args.key} on {self.node.topology.local!r}") from None

    async def release(self, shard: int, move: str) -> int:
        """The moved shard's references come off, never below what this instance's own shards
        still reference. Returns how many blobs it touched."""
        moved = await self._references(shard, move)
        still_used = await shard_references(self.meta, self.node.topology.local_shards)
        for key, n in moved:
            await self.blobs.decref(key, n, floor=still_used.get(key, 0))
        del self._moved[move]
        return len(moved)

    # -- the target ---------------------------------------------------------------------

    async def take(self, args: TakeArgs) -> BlobsTaken:
        """The shard is this instance's now: copy the blobs it lacks, add the references."""
        if not self.node.topology.is_local(args.shard):
            raise ProcedureError("not_switched", f"shard {args.shard} is not {self.node.topology.local!r}'s yet")
        if args.move in self._taken:
            raise ProcedureError("done", f"the blobs of move {args.move} were taken already")
        self._taken.add(args.move)
        others = [name for name in self.node.topology.names if name not in (args.source, self.node.topology.local)]
        taken = BlobsTaken(0, 0, 0, 0)
        after = ""
        while page := await self.node.client.call(
            args.source, "cluster.move.blob_references", ReferencesPage(args.shard, args.move, after),
            result_type=list[tuple[str, int]], idempotent=True,
        ):
            for key, n in page:
                if not await self.blobs.exists(key):
                    size = await self._copy(key, [args.source, *others])
                    if size is None:
                        taken.missing += 1
                        log.warning("blob %s of shard %d is on no instance: its media cannot be shown", key, args.shard)
                        continue
                    taken.copied, taken.copied_bytes = taken.copied + 1, taken.copied_bytes + size
                await self.blobs.incref(key, n)
                taken.referenced += 1
            after = page[-1][0]
        return taken

    async def _copy(self, key: str, holders: list[str]) -> int | None:
        """Copy one blob from the first holder that has it; its size, or None if none has."""
        for holder in holders:
            try:
                info = await self.blobs.put_stream(self._chunks(holder, key))
            except RpcError:
                continue  # not there (no_such_blob), or that instance does not answer: the next
            if info.key != key:  # the bytes are not the file named: refuse the copy
                raise ProcedureError("bad_copy", f"blob {key} from {holder!r} hashes to {info.key}")
            return info.size
        return None

    async def _chunks(self, holder: str, key: str) -> AsyncIterator[bytes]:
        offset = 0
        while True:
            data = await self.node.client.call(
                holder, "cluster.move.blob", BlobChunkArgs(key, offset, BLOB_CHUNK), result_type=bytes, idempotent=True,
            )
            if data:
                yield data
            if len(data) < BLOB_CHUNK:
                return
            offset += len(data)


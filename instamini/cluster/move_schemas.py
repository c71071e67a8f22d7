"""What the procedures of a shard move take and answer (cluster/shard_move.py), on the wire.

One module for both sides: the instances (shard_move.py) and the command that drives a
move (move_driver.py), which imports only this, not the stores. Each argument Struct
forbids unknown fields, so a command and an instance of different versions fail loudly
(`bad_args`) instead of half-understanding each other.

Cost: nothing; msgspec decodes each with its type.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

MAX_CHUNK = 4 << 20  # bytes per cluster.move.chunk answer: memory stays flat, one RPC stays short


class MapInfo(msgspec.Struct):
    instance: str
    version: int
    shard_count: int
    ranges: dict[str, str]  # {instance: "0-3,8"}: the whole map as this instance sees it
    frozen: list[int]  # shards whose writes this instance refuses (moving, or moved away)


class MoveRef(msgspec.Struct, forbid_unknown_fields=True):
    shard: Annotated[int, msgspec.Meta(ge=0)]
    move: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class FreezeArgs(MoveRef, forbid_unknown_fields=True):
    # The freeze lifts itself once no chunk has been read for this long and no switch came:
    # a command that died half-way cannot leave a shard refusing writes (its switch would
    # then be refused, as the freeze no longer holds).
    lease_seconds: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 120.0


class ChunkArgs(MoveRef, forbid_unknown_fields=True):
    offset: Annotated[int, msgspec.Meta(ge=0)]
    size: Annotated[int, msgspec.Meta(ge=1, le=MAX_CHUNK)]


class PullArgs(MoveRef, forbid_unknown_fields=True):
    source: str
    bytes: Annotated[int, msgspec.Meta(ge=1)]
    sha256: str
    chunk_bytes: Annotated[int, msgspec.Meta(ge=1, le=MAX_CHUNK)] = 1 << 20


class FinishArgs(MoveRef, forbid_unknown_fields=True):
    release_blobs: bool = False  # the target has taken the shard's blob references (cluster/move_blobs.py)


class TakeArgs(MoveRef, forbid_unknown_fields=True):
    source: str


class ReferencesPage(MoveRef, forbid_unknown_fields=True):
    after: Annotated[str, msgspec.Meta(max_length=64)] = ""  # the last blob key of the page before


class BlobChunkArgs(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    offset: Annotated[int, msgspec.Meta(ge=0)]
    size: Annotated[int, msgspec.Meta(ge=1, le=MAX_CHUNK)]


class AdoptArgs(msgspec.Struct, forbid_unknown_fields=True):
    version: Annotated[int, msgspec.Meta(ge=1)]
    ranges: dict[str, str]
    move: MoveRef | None = None  # the move this switch completes: checked on its source and target


class Frozen(msgspec.Struct):
    bytes: int
    sha256: str
    queued_writes: int  # writes that were queued at the freeze and committed before the snapshot
    drain_seconds: float
    snapshot_seconds: float


class BlobsTaken(msgspec.Struct):
    referenced: int  # blobs the moved rows use, whose references the target now holds
    copied: int  # of those, the ones it did not hold and copied from another instance
    copied_bytes: int
    missing: int  # referenced, but held by no instance


class Installed(msgspec.Struct):
    bytes: int
    chunks: int
    seconds: float


class Adopted(msgspec.Struct):
    instance: str
    version: int
    changed: bool  # False when this instance already had this very map

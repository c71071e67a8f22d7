"""The harmful-media blocklist: perceptual hashes of images admins banned (no HTTP in here).

The idea: an admin points at a media item or a post; the perceptual hashes of its
images (of a video, its poster frame) go on the list. Every later upload is checked
once processed, before it can be posted (`MediaService.content_checks`): one whose
hash is within `[moderation] blocklist_distance` bits of a listed hash fails with
"matches an image on the blocklist", so a re-encoded, resized or slightly edited copy
is refused too (see `ranker/phash.py` for what the hash does and does not survive).
The list lives on shard 0 (`media_blocklist`, hashes stored signed) and in memory.

Cost: one hamming distance (an XOR and a popcount) per listed hash per upload: fine
for thousands of entries; millions would want an index (multi-index hashing or a
BK-tree). In a cluster the list is shard 0's owner's: changes run there (`@owned`), and
every instance keeps a copy, reloaded when told of a change (sync.py) and every
sync.REFRESH_SECONDS.
Posts already published are not re-checked when a hash is added, unless the admin
asks (`matching_posts`: a scan of every hashed item on every shard, an admin action).
"""

from __future__ import annotations

import time

import msgspec

from ..cluster.forward import owned, owned_shards, scatter_lists
from ..errors import InvalidInput, NotFound
from ..ids import shard_of
from ..ids import IdGenerator
from ..media import records
from ..ranker.phash import hamming, to_signed, to_unsigned
from ..stores.meta import ShardedMeta

BLOCKLIST_SHARD = 0
REASON = "matches an image on the blocklist"


class BlockedHash(msgspec.Struct, frozen=True):
    id: int
    phash: int  # unsigned, 64 bits
    note: str
    added_by: int
    added_ms: int


class Blocklist:
    def __init__(self, meta: ShardedMeta, ids: IdGenerator, distance: int) -> None:
        self.meta, self.ids, self.distance = meta, ids, distance
        self.entries: dict[int, BlockedHash] = {}
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)
        self.announce = None  # sync.py's: tell the other instances what changed (a cluster only)

    async def load(self) -> None:
        self.entries = {entry.id: entry for entry in await self.stored()}

    @owned(lambda self: BLOCKLIST_SHARD)
    async def stored(self) -> list[BlockedHash]:
        rows = await self.meta.read(BLOCKLIST_SHARD, "SELECT id, phash, note, added_by, added_ms FROM media_blocklist")
        return [BlockedHash(row[0], to_unsigned(row[1]), *row[2:]) for row in rows]

    @owned(lambda self, object_id, of_post: shard_of(object_id))
    async def phashes_of(self, object_id: int, of_post: bool) -> list[int | None] | None:
        return await records.load_phashes(self.meta, object_id, of_post=of_post)

    # -- the content check -------------------------------------------------------------

    def match(self, phash: int | None) -> BlockedHash | None:
        """The closest listed hash within the distance, or None."""
        if phash is None:
            return None
        best, best_distance = None, self.distance + 1
        for entry in self.entries.values():
            distance = hamming(phash, entry.phash)
            if distance < best_distance:
                best, best_distance = entry, distance
        return best

    async def check(self, kind: str, phash: int | None, path: str) -> str | None:
        """A `MediaService.content_checks` entry: the refusal for a blocked image, else None."""
        return None if self.match(phash) is None else REASON

    # -- managing the list -------------------------------------------------------------

    def list(self) -> list[BlockedHash]:
        """Every entry, newest first."""
        return sorted(self.entries.values(), key=lambda entry: entry.id, reverse=True)

    async def block(self, added_by: int, media_id: int | None, post_id: int | None, note: str = "") -> list[BlockedHash]:
        """List the hashes of one media item, or of every item of one post; returns their entries."""
        if (media_id is None) == (post_id is None):
            raise InvalidInput("give either media_id or post_id")
        of_post = post_id is not None
        object_id = post_id if of_post else media_id
        found = await self.phashes_of(object_id, of_post) if 0 <= shard_of(object_id) < self.meta.shard_count else None
        if found is None:
            raise NotFound("no such post" if of_post else "no such media")
        hashes = [to_unsigned(value) for value in found if value is not None]
        if not hashes:
            raise InvalidInput("nothing to block: no processed image there (still processing, or failed)")
        return await self.add(hashes, note, added_by)

    @owned(lambda self, *_: BLOCKLIST_SHARD)
    async def add(self, hashes: list[int], note: str, added_by: int) -> list[BlockedHash]:
        """Add hashes (unsigned); one already listed returns its existing entry."""
        existing = {entry.phash: entry for entry in self.entries.values()}
        now_ms = time.time_ns() // 1_000_000
        result: list[BlockedHash] = []
        new: list[BlockedHash] = []
        for phash in dict.fromkeys(hashes):
            if phash in existing:
                result.append(existing[phash])
                continue
            entry = BlockedHash(self.ids.next_id(BLOCKLIST_SHARD), phash, note, added_by, now_ms)
            result.append(entry)
            new.append(entry)
        if new:
            rows = [(e.id, to_signed(e.phash), e.note, e.added_by, e.added_ms) for e in new]
            await self.meta.write(
                BLOCKLIST_SHARD,
                lambda conn: conn.executemany(
                    "INSERT INTO media_blocklist (id, phash, note, added_by, added_ms) VALUES (?, ?, ?, ?, ?)", rows
                ),
            )
            self.entries.update((entry.id, entry) for entry in new)
            if self.announce is not None:
                await self.announce("blocklist")
        return result

    async def matching_posts(self, hashes: list[int]) -> list[int]:
        """Posts with an item within the distance of any of `hashes` (unsigned), oldest first."""
        return sorted(set(await scatter_lists(self, self.matching_on, hashes)))

    @owned_shards
    async def matching_on(self, shards: list[int], hashes: list[int]) -> list[int]:
        found: set[int] = set()
        for shard in shards:
            rows = await self.meta.read(
                shard, "SELECT post_id, phash FROM media WHERE post_id IS NOT NULL AND phash IS NOT NULL"
            )
            for post_id, value in rows:
                if any(hamming(to_unsigned(value), phash) <= self.distance for phash in hashes):
                    found.add(post_id)
        return list(found)

    @owned(lambda self, *_: BLOCKLIST_SHARD)
    async def remove(self, entry_id: int) -> None:
        if entry_id not in self.entries:
            raise NotFound("no such blocklist entry")
        await self.meta.write(
            BLOCKLIST_SHARD, lambda conn: conn.execute("DELETE FROM media_blocklist WHERE id = ?", (entry_id,))
        )
        self.entries.pop(entry_id, None)
        if self.announce is not None:
            await self.announce("blocklist")

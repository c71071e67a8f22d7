"""Reading and writing the `media` table: the functions other modules call inside their writes.

The idea: a post and the media it shows live on the same shard (the author's), so
attaching media to a new post, and dropping it when the post is deleted, happen in
the post's own transaction. These are plain functions of a SQLite connection, run
inside a `meta.write(shard, job)`; they raise InstaminiErrors that roll the job back.

Cost: one indexed SELECT and one UPDATE per attached item.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import msgspec

from ..errors import Conflict, InvalidInput
from ..ids import group_by_shard, shard_of
from ..stores.meta import ShardedMeta

# Our own output formats: the only things ever served, so the only content types.
EXTENSIONS = {"image/webp": "webp", "image/jpeg": "jpg", "video/mp4": "mp4"}
CONTENT_TYPES = {ext: content_type for content_type, ext in EXTENSIONS.items()}


class Variant(msgspec.Struct, frozen=True):
    """One re-encoded file: `role` is image, fallback (JPEG), video, poster or thumbnail."""

    key: str
    role: str
    content_type: str
    width: int
    height: int
    bytes: int

    @property
    def url(self) -> str:
        return f"/media/{self.key}.{EXTENSIONS[self.content_type]}"


class MediaRecord(msgspec.Struct, frozen=True):
    id: int
    owner_id: int
    kind: str
    status: str
    reason: str | None
    alt_text: str
    width: int | None
    height: int | None
    duration_ms: int | None
    placeholder: str | None
    variants: list[Variant]
    post_id: int | None
    position: int | None
    created_ms: int


COLUMNS = (
    "id, owner_id, kind, status, reason, alt_text, width, height, duration_ms, placeholder, "
    "variants, post_id, position, created_ms"
)
_variants = msgspec.json.Decoder(list[Variant])


def record_from_row(row: Sequence) -> MediaRecord:
    values = list(row)
    values[10] = _variants.decode(values[10])
    return MediaRecord(*values)


def encode_variants(variants: Iterable[Variant]) -> str:
    return msgspec.json.encode(list(variants)).decode()


def blob_keys(records: Iterable[MediaRecord]) -> list[str]:
    return [variant.key for record in records for variant in record.variants]


def own_upload(conn: sqlite3.Connection, owner_id: int, media_id: int, field: str) -> MediaRecord:
    """The caller's upload, not failed; anyone else's (or none) is refused as `field`'s error."""
    row = conn.execute(f"SELECT {COLUMNS} FROM media WHERE id = ?", (media_id,)).fetchone()
    record = None if row is None else record_from_row(row)
    if record is None or record.owner_id != owner_id:
        raise InvalidInput(f"{field}: {media_id} is not one of your uploads")
    if record.status == "failed":
        raise InvalidInput(f"{field}: {media_id} failed to process ({record.reason}); upload it again")
    return record


def claim_for_post(conn: sqlite3.Connection, owner_id: int, media_ids: Sequence[int], post_id: int) -> list[MediaRecord]:
    """Attach the caller's ready, unused uploads to a new post, in the given order."""
    if len(set(media_ids)) != len(media_ids):
        raise InvalidInput("media_ids: the same media appears twice")
    records = []
    for position, media_id in enumerate(media_ids):
        record = own_upload(conn, owner_id, media_id, "media_ids")
        if record.status == "processing":
            raise Conflict(f"media_ids: {media_id} is still processing; post it once its status is ready")
        if record.post_id is not None:
            raise Conflict(f"media_ids: {media_id} is already in a post")
        if conn.execute("SELECT 1 FROM users WHERE avatar_media_id = ?", (media_id,)).fetchone():
            raise Conflict(f"media_ids: {media_id} is your profile photo; upload it again to post it")
        conn.execute("UPDATE media SET post_id = ?, position = ? WHERE id = ?", (post_id, position, media_id))
        records.append(msgspec.structs.replace(record, post_id=post_id, position=position))
    return records


def check_avatar(conn: sqlite3.Connection, owner_id: int, media_id: int) -> str:
    """An avatar must be a ready image of the user's own (it lives on their shard, like users).

    Returns the URL of its smallest still, which is what everyone sees beside the name: kept
    on the user's row so that showing an avatar costs no media lookup."""
    # Not one in a post either: deleting the post would delete the avatar with it.
    row = conn.execute(
        "SELECT owner_id, kind, status, post_id, variants FROM media WHERE id = ?", (media_id,)
    ).fetchone()
    if row is None or tuple(row)[:4] != (owner_id, "image", "ready", None):
        raise InvalidInput("avatar_media_id does not name a ready image of yours")
    stills = [v for v in _variants.decode(row["variants"]) if v.role in ("image", "fallback")]
    # WebP before the JPEG fallback, then the smallest: an avatar is shown at most 150 px wide.
    return min(stills, key=lambda v: (v.role != "image", v.width)).url


def release_post(conn: sqlite3.Connection, post_id: int) -> list[str]:
    """Delete a post's media rows; returns the blob keys to decref once the write commits."""
    rows = conn.execute(f"SELECT {COLUMNS} FROM media WHERE post_id = ?", (post_id,)).fetchall()
    conn.execute("DELETE FROM media WHERE post_id = ?", (post_id,))
    return blob_keys(record_from_row(row) for row in rows)


def set_alt_texts(conn: sqlite3.Connection, post_id: int, alt_texts: dict[int, str]) -> None:
    """Edit the alt text of items of one post; an id not in the post is refused."""
    for media_id, text in alt_texts.items():
        changed = conn.execute(
            "UPDATE media SET alt_text = ? WHERE id = ? AND post_id = ?", (text, media_id, post_id)
        ).rowcount
        if not changed:
            raise InvalidInput(f"alt_texts: {media_id} is not an item of this post")


async def load_for_posts(meta: ShardedMeta, post_ids: Iterable[int]) -> dict[int, list[MediaRecord]]:
    """The media of many posts, in carousel order: one query per shard involved."""
    rows = await meta.read_by_shard(
        f"SELECT {COLUMNS} FROM media WHERE post_id IN ({{ids}}) ORDER BY post_id, position", group_by_shard(post_ids)
    )
    by_post: dict[int, list[MediaRecord]] = {}
    for row in rows:
        record = record_from_row(row)
        by_post.setdefault(record.post_id, []).append(record)
    return by_post


async def load_phashes(meta: ShardedMeta, object_id: int, of_post: bool = False) -> list[int | None] | None:
    """The stored perceptual hashes (signed; None where not computed) of one media item, or
    of every item of one post in carousel order; None when no such media or post exists."""
    if shard_of(object_id) >= meta.shard_count:
        return None
    column = "post_id" if of_post else "id"
    rows = await meta.read(shard_of(object_id), f"SELECT phash FROM media WHERE {column} = ? ORDER BY position", (object_id,))
    return [row[0] for row in rows] or None


async def load(meta: ShardedMeta, media_id: int) -> MediaRecord | None:
    if shard_of(media_id) >= meta.shard_count:  # a made-up id: no shard holds it
        return None
    row = await meta.read_one(shard_of(media_id), f"SELECT {COLUMNS} FROM media WHERE id = ?", (media_id,))
    return None if row is None else record_from_row(row)


def insert_upload(
    conn: sqlite3.Connection, media_id: int, owner_id: int, kind: str, alt_text: str, upload_path: str, upload_bytes: int, now_ms: int
) -> None:
    """A new upload: the media row (processing) and its durable job, in one transaction."""
    conn.execute(
        "INSERT INTO media (id, owner_id, kind, status, alt_text, upload_bytes, created_ms) "
        "VALUES (?, ?, ?, 'processing', ?, ?, ?)",
        (media_id, owner_id, kind, alt_text, upload_bytes, now_ms),
    )
    conn.execute(
        "INSERT INTO media_jobs (media_id, state, upload_path, queued_ms) VALUES (?, 'queued', ?, ?)",
        (media_id, upload_path, now_ms),
    )


def finish_ready(
    conn: sqlite3.Connection,
    media_id: int,
    *,
    width: int,
    height: int,
    duration_ms: int | None,
    placeholder: str | None,
    variants: Iterable[Variant],
    phash: int | None = None,
) -> bool:
    """Record a processed upload and end its job; False if the media was deleted meanwhile."""
    conn.execute("DELETE FROM media_jobs WHERE media_id = ?", (media_id,))
    return bool(
        conn.execute(
            "UPDATE media SET status = 'ready', width = ?, height = ?, duration_ms = ?, placeholder = ?, variants = ?, "
            "phash = ? WHERE id = ? AND status = 'processing'",
            (width, height, duration_ms, placeholder, encode_variants(variants), phash, media_id),
        ).rowcount
    )


def finish_failed(conn: sqlite3.Connection, media_id: int, reason: str) -> None:
    """Record why an upload could not be processed and end its job."""
    conn.execute("DELETE FROM media_jobs WHERE media_id = ?", (media_id,))
    conn.execute("UPDATE media SET status = 'failed', reason = ? WHERE id = ? AND status = 'processing'", (reason, media_id))

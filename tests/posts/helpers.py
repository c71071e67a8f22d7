"""Helpers for the posts tests: media made without the media pipeline, posts, stores, events.

Media rows are written the way the media module records them (`insert_upload`, then
`finish_ready` or `finish_failed`), with one blob reference per variant as the media
module holds them, so the posts tests depend only on `media.records`.
"""

from __future__ import annotations

import sqlite3
import time

from instamini.events import EVENTS
from instamini.ids import shard_of
from instamini.media import records
from tests.accounts.helpers import in_app, snapshot, state_of
from tests.conftest import User

POSTS = "/api/v1/posts"
# The variants each kind of media is made of here: (role, content type).
VARIANTS = {
    "image": [("image", "image/webp"), ("fallback", "image/jpeg")],
    "video": [("video", "video/mp4"), ("poster", "image/webp")],
}
# Every row the posts module writes, and what it reads of the media and counters tables.
TABLES = {
    "posts": "SELECT id, author_id, kind, caption, hashtags, mention_ids, edited_ms FROM posts ORDER BY id",
    "post_tags": "SELECT tag, post_id FROM post_tags ORDER BY tag, post_id",
    "post_mentions": "SELECT post_id, user_id FROM post_mentions ORDER BY post_id, user_id",
    "likes": "SELECT post_id, user_id FROM likes ORDER BY post_id, user_id",
    "comments": "SELECT id, post_id, author_id, parent_id, reply_to_id, text FROM comments ORDER BY id",
    "saves": "SELECT user_id, post_id FROM saves ORDER BY user_id, post_id",
    "media": "SELECT id, status, alt_text, post_id, position FROM media ORDER BY id",
    "counters": "SELECT object_id, name, value FROM counters ORDER BY object_id, name",
}


async def make_media(client, user: User, kind: str = "image", status: str = "ready", n: int = 1) -> list[str]:
    """n uploads of the user in the given status; ready ones hold a blob reference per variant."""
    state = state_of(client)
    owner = int(user.id)
    made: dict[int, list[records.Variant]] = {}
    for _ in range(n):
        media_id = state.ids.next_id(shard_of(owner))
        made[media_id] = []
        for role, content_type in VARIANTS[kind] if status == "ready" else ():
            blob = in_app(client, state.blobs.put_bytes, f"{role} of {media_id}".encode())
            in_app(client, state.blobs.incref, blob.key)
            made[media_id].append(records.Variant(blob.key, role, content_type, 1080, 1080, blob.size))

    def record(conn: sqlite3.Connection) -> None:
        now_ms = time.time_ns() // 1_000_000
        for media_id, variants in made.items():
            records.insert_upload(conn, media_id, owner, kind, "", f"uploads/{media_id}", 100, now_ms)
            if status == "ready":
                duration_ms = 3000 if kind == "video" else None
                records.finish_ready(
                    conn, media_id, width=1080, height=1080, duration_ms=duration_ms, placeholder=None, variants=variants
                )
            elif status == "failed":
                records.finish_failed(conn, media_id, "not an allowed image format: TIFF")
            else:
                # Still processing, and staying so: no job loop may pick up an upload file that does not exist.
                conn.execute("DELETE FROM media_jobs WHERE media_id = ?", (media_id,))

    in_app(client, state.meta.write, shard_of(owner), record)
    return [str(media_id) for media_id in made]


async def ready_media(client, user: User, kind: str = "image", n: int = 1) -> list[str]:
    return await make_media(client, user, kind, "ready", n)


async def make_post(client, user: User, caption: str = "", n: int = 1, kind: str = "post", media: str = "image") -> dict:
    """A new post of n fresh ready uploads; returns the API's answer."""
    media_ids = await ready_media(client, user, media, n)
    response = await client.post(POSTS, headers=user.headers, json={"caption": caption, "media_ids": media_ids, "kind": kind})
    assert response.status_code == 201, response.text
    return response.json()


def blob_keys(post: dict) -> list[str]:
    """The blob keys of a post's variants, read off their URLs (/media/<key>.<ext>)."""
    return [variant["url"].rsplit("/", 1)[1].split(".")[0] for item in post["media"] for variant in item["variants"]]


def refcounts(client, keys: list[str]) -> list[int]:
    return [in_app(client, state_of(client).blobs.refcount, key) for key in keys]


async def stored(client) -> dict[str, list[tuple]]:
    """Every row of TABLES on every shard: to assert that a refused request wrote nothing."""
    return await snapshot(client, TABLES)


async def get_post(client, post_id: str, user: User | None = None) -> dict:
    response = await client.get(f"{POSTS}/{post_id}", headers=user.headers if user else None)
    assert response.status_code == 200, response.text
    return response.json()


async def ids_of(client, path: str, user: User | None = None, **params) -> tuple[list[str], str | None]:
    """The ids on one page of a list, and its next cursor."""
    response = await client.get(path, headers=user.headers if user else None, params=params or None)
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["id"] for item in body["items"]], body["next_cursor"]


async def all_ids(client, path: str, user: User | None = None, limit: int = 2) -> list[str]:
    """Every id of a list, following cursors page by page."""
    found, cursor = [], None
    while True:
        page, cursor = await ids_of(client, path, user, limit=limit, **({"cursor": cursor} if cursor else {}))
        found += page
        if cursor is None:
            return found


# Where each event's change can be seen once committed: (payload key naming the
# shard, SQL, payload keys bound to it, whether the row then exists).
COMMITTED = {
    "post.created": ("post_id", "SELECT 1 FROM posts WHERE id = ?", ("post_id",), True),
    "post.updated": ("post_id", "SELECT 1 FROM posts WHERE id = ? AND edited_ms IS NOT NULL", ("post_id",), True),
    "post.deleted": ("post_id", "SELECT 1 FROM posts WHERE id = ?", ("post_id",), False),
    "post.liked": ("post_id", "SELECT 1 FROM likes WHERE post_id = ? AND user_id = ?", ("post_id", "user_id"), True),
    "post.unliked": ("post_id", "SELECT 1 FROM likes WHERE post_id = ? AND user_id = ?", ("post_id", "user_id"), False),
    "post.saved": ("user_id", "SELECT 1 FROM saves WHERE user_id = ? AND post_id = ?", ("user_id", "post_id"), True),
    "post.unsaved": ("user_id", "SELECT 1 FROM saves WHERE user_id = ? AND post_id = ?", ("user_id", "post_id"), False),
    "comment.created": ("comment_id", "SELECT 1 FROM comments WHERE id = ?", ("comment_id",), True),
    "comment.deleted": ("comment_id", "SELECT 1 FROM comments WHERE id = ?", ("comment_id",), False),
}


def documented_keys(name: str) -> set[str]:
    """The payload keys that events.py lists for an event: the part before the colon."""
    return {key.strip() for key in EVENTS[name].split(":", 1)[0].split(",")}


class EventLog:
    """Records what the posts services emit, checking at that moment, through a connection
    of its own, that the change is committed (another connection sees it), and that the
    payload has exactly the keys events.py documents."""

    committed = COMMITTED  # other modules' tests subclass with their own events

    def __init__(self, client) -> None:
        self.state = state_of(client)
        self.seen: list[tuple[str, dict]] = []
        self.problems: list[str] = []
        for service in self.services():
            service.emit = self._recorder(service.emit)

    def services(self) -> list:
        return [self.state.posts, self.state.comments, self.state.reactions]

    def _recorder(self, emit):
        def record(name: str, **payload) -> None:
            self.seen.append((name, payload))
            if set(payload) != documented_keys(name):
                self.problems.append(f"{name}: keys {sorted(payload)} are not {sorted(documented_keys(name))}")
            if not self._committed(name, payload):
                self.problems.append(f"{name} {payload}: emitted before its change was committed")
            emit(name, **payload)

        return record

    def _committed(self, name: str, payload: dict) -> bool:
        shard_key, sql, keys, exists = self.committed[name]
        path = self.state.meta.shards[shard_of(payload[shard_key])].path
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = conn.execute(sql, [payload[key] for key in keys]).fetchone() is not None
        finally:
            conn.close()
        return found == exists

    def named(self, name: str) -> list[dict]:
        assert not self.problems, self.problems
        return [payload for seen, payload in self.seen if seen == name]

    def names(self) -> list[str]:
        assert not self.problems, self.problems
        return [name for name, _ in self.seen]

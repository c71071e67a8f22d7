"""Turning the service's views of posts and comments into what the API sends."""

from __future__ import annotations

import msgspec
from litestar import Response
from litestar.enums import MediaType

from ..errors import NotFound
from ..graph.routes import user_summary
from ..graph.schemas import UserSummary
from ..ids import created_at_iso, iso_from_ms, parse_id
from ..media.schemas import media_out
from .comments import CommentPage, CommentView
from .records import PostCard, media_of
from .schemas import CommentList, CommentOut
from .service import PostPage, PostView


def id_in_path(text: str, what: str) -> int:
    """An id from the URL; one that cannot be an id names nothing: 404, like a missing one."""
    object_id = parse_id(text)
    if object_id is None:
        raise NotFound(f"no {what} {text}")
    return object_id


def optional_id(value: int | None) -> str | None:
    return None if value is None else str(value)


class _PostJson(msgspec.Struct):
    """PostOut's wire form, field for field, with the media list already encoded."""

    id: str
    author: UserSummary
    kind: str
    caption: str
    hashtags: list[str]
    mentions: list[str]
    media: msgspec.Raw
    like_count: int
    comment_count: int
    liked: bool
    saved: bool
    created_at: str
    edited_at: str | None


class _PostListJson(msgspec.Struct):
    items: list[_PostJson]
    next_cursor: str | None


class EncodedMedia:
    """The JSON of posts' media lists, kept per (post, last edit) in memory.

    A feed page repeats the same posts to many viewers, and their media (a few variants
    each, with URLs and sizes) is most of the bytes and of the work of building the
    answer; it changes only when the post is edited, so it is encoded once. Bounded:
    when full, it starts again empty (a few misses are cheaper than LRU bookkeeping).
    """

    def __init__(self, max_posts: int = 20_000) -> None:
        self.max_posts = max_posts
        self._json: dict[tuple[int, int], bytes] = {}

    def of(self, card: PostCard) -> msgspec.Raw:
        key = (card.id, card.edited_ms or 0)
        encoded = self._json.get(key)
        if encoded is None:
            if len(self._json) >= self.max_posts:
                self._json.clear()
            encoded = self._json[key] = msgspec.json.encode([media_out(item) for item in media_of(card)])
        return msgspec.Raw(encoded)


ENCODED_MEDIA = EncodedMedia()


def _post_json(view: PostView) -> _PostJson:
    card = view.record
    return _PostJson(
        id=str(card.id),
        author=user_summary(view.author),
        kind=card.kind,
        caption=card.caption,
        hashtags=card.hashtags,
        mentions=view.mentions,
        media=ENCODED_MEDIA.of(card),
        like_count=view.like_count,
        comment_count=view.comment_count,
        liked=view.liked,
        saved=view.saved,
        created_at=created_at_iso(card.id),
        edited_at=None if card.edited_ms is None else iso_from_ms(card.edited_ms),
    )


# Handlers keep PostOut / PostList as their declared return types, which is what
# OpenAPI shows; the bytes are these, made from pre-encoded media lists.


def post_out(view: PostView, status_code: int = 200) -> Response:
    return Response(msgspec.json.encode(_post_json(view)), media_type=MediaType.JSON, status_code=status_code)


def post_list(page: PostPage) -> Response:
    body = _PostListJson(items=[_post_json(view) for view in page.posts], next_cursor=page.next_cursor)
    return Response(msgspec.json.encode(body), media_type=MediaType.JSON)
def comment_out(view: CommentView) -> CommentOut:
    record = view.record
    return CommentOut(
        id=str(record.id),
        post_id=str(record.post_id),
        author=user_summary(view.author),
        text=record.text,
        parent_id=optional_id(record.parent_id),
        reply_to=optional_id(record.reply_to_id),
        created_at=created_at_iso(record.id),
        reply_count=view.reply_count,
        replies=[comment_out(reply) for reply in view.replies],
    )


def comment_list(page: CommentPage) -> CommentList:
    return CommentList(items=[comment_out(view) for view in page.comments], next_cursor=page.next_cursor)

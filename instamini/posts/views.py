"""Turning the service's views of posts and comments into what the API sends."""

from __future__ import annotations

from ..errors import NotFound
from ..graph.routes import user_summary
from ..ids import created_at_iso, iso_from_ms, parse_id
from ..media.schemas import media_out
from .comments import CommentPage, CommentView
from .schemas import CommentList, CommentOut, PostList, PostOut
from .service import PostPage, PostView


def id_in_path(text: str, what: str) -> int:
    """An id from the URL; one that cannot be an id names nothing: 404, like a missing one."""
    object_id = parse_id(text)
    if object_id is None:
        raise NotFound(f"no {what} {text}")
    return object_id


def optional_id(value: int | None) -> str | None:
    return None if value is None else str(value)


def post_out(view: PostView) -> PostOut:
    record = view.record
    return PostOut(
        id=str(record.id),
        author=user_summary(view.author),
        kind=record.kind,
        caption=record.caption,
        hashtags=record.hashtags,
        mentions=view.mentions,
        media=[media_out(item) for item in record.media],
        like_count=view.like_count,
        comment_count=view.comment_count,
        liked=view.liked,
        saved=view.saved,
        created_at=created_at_iso(record.id),
        edited_at=None if record.edited_ms is None else iso_from_ms(record.edited_ms),
    )


def post_list(page: PostPage) -> PostList:
    return PostList(items=[post_out(view) for view in page.posts], next_cursor=page.next_cursor)


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

"""What a page of posts is to one viewer: each post with its author, counts and the viewer's flags.

The shapes that hydration fills (`PostsService.hydrate`) and every feed, grid and tag page
returns, and the cursor they hand out; no logic beyond reading a cursor. Cost: none.
"""

from __future__ import annotations

import msgspec

from ..accounts.service import UserRecord
from ..errors import InvalidInput
from ..ids import parse_id
from .records import PostCard


class PostView(msgspec.Struct, frozen=True):
    """A post as one viewer sees it."""

    record: PostCard
    author: UserRecord
    mentions: list[str]
    like_count: int
    comment_count: int
    liked: bool
    saved: bool


class OwnedPost(msgspec.Struct, array_like=True, frozen=True):
    """What a post's owner holds of it for one viewer (PostsService.load_owned): a PostView
    without the save, which lives on the viewer's owner."""

    card: PostCard
    author: UserRecord
    mentions: list[str]
    like_count: int
    comment_count: int
    liked: bool


class PostPage(msgspec.Struct):
    posts: list[PostView]
    next_cursor: str | None


def decode_cursor(cursor: str | None, first: int) -> int:
    """A page position from `?cursor=` (absent or empty: the first page)."""
    if not cursor:
        return first
    position = parse_id(cursor)
    if position is None:
        raise InvalidInput("cursor is not one this server gave out")
    return position

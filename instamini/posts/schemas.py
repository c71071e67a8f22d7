"""What the posts API sends and receives.

The length caps here are the hard limits of the wire format (the defaults of
`[posts]` in config.toml); the service checks the configured ones, which may be
lower. Either way an overlong field is a 400 that names it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

from ..accounts.schemas import IdString, Input, nested_limits
from ..graph.schemas import UserSummary
from ..media.schemas import MediaOut

MAX_ITEMS, MAX_CAPTION_CHARS, MAX_ALT_TEXT_CHARS, MAX_COMMENT_CHARS = 10, 2200, 1000, 2200

Caption = Annotated[str, Meta(max_length=MAX_CAPTION_CHARS, description="text with #hashtags and @mentions")]
AltText = Annotated[str, Meta(max_length=MAX_ALT_TEXT_CHARS, description="what the image shows, for screen readers")]
_AltTextById = Annotated[dict[IdString, AltText], Meta(max_length=MAX_ITEMS)]  # one per item of a post at most
AltTexts = Annotated[
    _AltTextById, Meta(description="media id -> alt text, for items of this post", extra_json_schema=nested_limits(_AltTextById))
]
_ReadyUploads = Annotated[list[IdString], Meta(min_length=1, max_length=MAX_ITEMS)]
MediaIds = Annotated[
    _ReadyUploads, Meta(description="ready uploads of yours, in carousel order", extra_json_schema=nested_limits(_ReadyUploads))
]


class PostIn(Input):
    media_ids: MediaIds
    caption: Caption = ""
    kind: Literal["post", "reel"] = "post"
    alt_texts: AltTexts = field(default_factory=dict)


class PostPatch(Input):
    caption: Caption | UnsetType = UNSET
    alt_texts: AltTexts | UnsetType = UNSET


class CommentIn(Input):
    text: Annotated[str, Meta(min_length=1, max_length=MAX_COMMENT_CHARS)]
    reply_to: IdString | None = None


class PostOut(Struct):
    id: str
    author: UserSummary
    kind: str
    caption: str
    hashtags: list[str]
    mentions: list[str]
    media: list[MediaOut]
    like_count: int
    comment_count: int
    liked: bool
    saved: bool
    created_at: str
    edited_at: str | None


class PostList(Struct):
    items: list[PostOut]
    next_cursor: str | None


class CommentOut(Struct):
    id: str
    post_id: str
    author: UserSummary
    text: str
    parent_id: str | None
    reply_to: str | None
    created_at: str
    reply_count: int
    replies: list[CommentOut]


class CommentList(Struct):
    items: list[CommentOut]
    next_cursor: str | None


class LikeState(Struct):
    liked: bool
    like_count: int


class SaveState(Struct):
    saved: bool

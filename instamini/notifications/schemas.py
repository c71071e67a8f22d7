"""What the notifications API sends and receives."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from ..accounts.schemas import IdString, Input
from ..graph.schemas import UserSummary


class NotificationOut(Struct):
    id: Annotated[str, Meta(description="stable: a regrouped notification keeps it (update the item in place)")]
    kind: Annotated[
        str,
        Meta(description="like, comment, reply, mention, follow, follow_request, request_accepted or message"),
    ]
    summary: Annotated[str, Meta(description="the sentence to show: 'alice and 3 others liked your post'")]
    actors: Annotated[list[UserSummary], Meta(description="the newest few actors, newest first")]
    actor_count: int
    count: Annotated[int, Meta(description="how many events it groups: likes, follows, messages")]
    post_id: str | None
    comment_id: str | None
    thread_id: str | None
    text_preview: str | None
    read: bool
    created_at: str
    updated_at: str
    cursor: Annotated[str, Meta(description="its place in the list: ?cursor= for what is older, or /read up to it")]


class NotificationList(Struct):
    items: list[NotificationOut]
    next_cursor: str | None
    unread: int


class ReadIn(Input):
    cursor: Annotated[IdString, Meta(description="mark read this item (its `cursor`) and everything older")]


class UnreadOut(Struct):
    unread: int

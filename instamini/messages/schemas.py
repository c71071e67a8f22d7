"""What the messages API sends and receives (and what a `message` frame carries).

The caps here are the hard limits of the wire format (the ceilings of `[messages]`
in config.toml); the service checks the configured ones, which may be lower, with a
400 that names the field either way.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from ..accounts.schemas import IdString, Input, nested_limits
from ..graph.schemas import UserSummary
from ..media.schemas import MediaOut

MAX_PARTICIPANTS, MAX_TEXT_CHARS = 32, 2000

Name = Annotated[str, Meta(min_length=1, max_length=64)]
_Others = Annotated[list[Name], Meta(min_length=1, max_length=MAX_PARTICIPANTS - 1)]


class ThreadIn(Input):
    usernames: Annotated[
        _Others,
        Meta(description="one name: a direct thread; 2 or more: a group (you are added)", extra_json_schema=nested_limits(_Others)),
    ]


class MessageIn(Input):
    text: Annotated[str, Meta(max_length=MAX_TEXT_CHARS)] = ""
    media_id: IdString | None = None
    post_id: IdString | None = None


class ReadIn(Input):
    message_id: IdString


class PostPreviewOut(Struct):
    id: str
    author: UserSummary
    kind: str
    caption: str
    media: MediaOut | None


class MessageOut(Struct):
    id: str
    thread_id: str
    sender: UserSummary
    text: str
    media: MediaOut | None
    post_id: str | None
    post: PostPreviewOut | None  # null when no post is shared, or it is gone or hidden from you
    created_at: str


class MessageList(Struct):
    items: list[MessageOut]
    next_cursor: str | None


class ReadReceipt(Struct):
    user_id: str
    message_id: str | None  # the last message they read; null: none yet


class ThreadOut(Struct):
    id: str
    kind: Literal["direct", "group"]
    participants: list[UserSummary]  # everyone, you included, the creator first
    reads: list[ReadReceipt]
    folder: Literal["inbox", "requests"]  # yours
    unread_count: int  # yours: messages of others after your read receipt
    last_message: MessageOut | None
    created_at: str
    last_activity_at: str


class ThreadList(Struct):
    items: list[ThreadOut]
    next_cursor: str | None


class ReadState(Struct):
    thread_id: str
    message_id: str
    unread_count: int

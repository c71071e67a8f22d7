"""What the stories API sends and receives."""

from __future__ import annotations

from msgspec import Struct

from ..accounts.schemas import IdString, Input
from ..graph.schemas import UserSummary
from ..media.schemas import MediaOut


class StoryIn(Input):
    media_id: IdString


class StoryOut(Struct):
    id: str
    media: MediaOut
    created_at: str
    expires_at: str
    seen: bool


class TrayEntryOut(Struct):
    user: UserSummary
    stories: list[StoryOut]
    has_unseen: bool


class Tray(Struct):
    items: list[TrayEntryOut]


class SeenOut(Struct):
    id: str
    seen: bool


class ViewerOut(Struct):
    user: UserSummary
    seen_at: str


class ViewerList(Struct):
    items: list[ViewerOut]

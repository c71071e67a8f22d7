"""What the graph API sends."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from ..accounts.schemas import Account, Counts


class RelationshipOut(Struct):
    following: bool
    requested: bool
    followed_by: bool
    blocking: bool


class Profile(Account):
    counts: Counts
    relationship: RelationshipOut | None


class UserSummary(Struct):
    id: str
    username: str
    display_name: str
    avatar_media_id: str | None
    avatar_url: str | None  # its smallest still; null without an avatar


class UserList(Struct):
    items: list[UserSummary]
    next_cursor: str | None


class FollowState(Struct):
    state: Literal["following", "requested", "none"]


class BlockState(Struct):
    blocking: bool

"""What the search routes answer."""

from __future__ import annotations

import msgspec

from ..graph.schemas import UserSummary


class HashtagOut(msgspec.Struct):
    tag: str
    posts: int


class SearchResults(msgspec.Struct):
    users: list[UserSummary]
    hashtags: list[HashtagOut]

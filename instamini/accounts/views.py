"""Turning internal records into what the API sends."""

from __future__ import annotations

from ..ids import created_at_iso
from .schemas import Account, Counts
from .service import UserRecord


def account_out(user: UserRecord) -> Account:
    return Account(
        id=str(user.id),
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        private=user.private,
        avatar_media_id=None if user.avatar_media_id is None else str(user.avatar_media_id),
        created_at=created_at_iso(user.id),
    )


def counts_out(counters: dict[str, int]) -> Counts:
    return Counts(
        posts=counters.get("posts", 0),
        followers=counters.get("followers", 0),
        following=counters.get("following", 0),
    )

"""Turning internal records into what the API sends."""

from __future__ import annotations

from ..ids import created_at_iso
from .schemas import Account, Counts
from .service import UserRecord


def account_fields(user: UserRecord) -> tuple:
    """Account's fields in order: `Account(*fields)`, or a subclass with more after them."""
    avatar = None if user.avatar_media_id is None else str(user.avatar_media_id)
    return (
        str(user.id), user.username, user.display_name, user.bio, user.private, avatar, created_at_iso(user.id),
        user.avatar_url,
    )


def account_out(user: UserRecord) -> Account:
    return Account(*account_fields(user))


def counts_out(counters: dict[str, int]) -> Counts:
    return Counts(
        posts=counters.get("posts", 0),
        followers=counters.get("followers", 0),
        following=counters.get("following", 0),
    )

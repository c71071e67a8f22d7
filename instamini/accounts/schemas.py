"""What the accounts API sends and receives (msgspec Structs: validated, documented in /schema)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

Username = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=30,
        pattern=r"^[A-Za-z0-9._]+$",
        description="1 to 30 of a-z, 0-9, '.' and '_'; case-insensitive (stored in lower case)",
    ),
]
Password = Annotated[str, Meta(min_length=8, max_length=256, description="8 to 256 characters")]
DisplayName = Annotated[str, Meta(max_length=64)]
Bio = Annotated[str, Meta(max_length=150)]
IdString = Annotated[str, Meta(max_length=20, pattern=r"^[0-9]+$", description="a 64-bit id as a string")]


def nested_limits(annotation: Any) -> dict:
    """`extra_json_schema` for a list or dict field: the schema of its items (keys, values, their
    number) as msgspec enforces them, for the OpenAPI document.

    Litestar's OpenAPI leaves out what is nested in a list or a dict, so without this the
    document says any string may be an item although the server refuses an overlong one.
    """
    schema = msgspec.json.schema(annotation)
    nested = ("items", "propertyNames", "additionalProperties", "maxProperties")
    return {"extra": {key: schema[key] for key in nested if key in schema}}


class Input(Struct, forbid_unknown_fields=True):
    """Requests refuse fields they do not know: a typo is an error, not a silent no-op."""


class RegisterIn(Input):
    username: Username
    password: Password
    display_name: DisplayName = ""


class LoginIn(Input):
    username: Annotated[str, Meta(min_length=1, max_length=30)]
    password: Annotated[str, Meta(min_length=1, max_length=256)]


class MePatch(Input):
    display_name: DisplayName | UnsetType = UNSET
    bio: Bio | UnsetType = UNSET
    private: bool | UnsetType = UNSET
    avatar_media_id: IdString | None | UnsetType = UNSET


class Counts(Struct):
    posts: int
    followers: int
    following: int


class Account(Struct):
    id: str
    username: str
    display_name: str
    bio: str
    private: bool
    avatar_media_id: str | None
    created_at: str
    avatar_url: str | None  # its smallest still, /media/<sha256>.webp; null without an avatar


class Me(Account):
    counts: Counts


class SessionOut(Struct):
    account: Account
    token: str

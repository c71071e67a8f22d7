"""Finding #hashtags and @mentions in captions and comments.

A hashtag is `#` then Unicode word characters (letters of any script, digits,
`_`), not glued to a word before it (so `a#b` and `&#39;` are not tags), and not
made of digits only (`#1 fan` is not a tag); it is compared in lower case. A
mention is `@` then a name that could be a username (see
`accounts.service.check_username`); a trailing `.` ends the sentence, not the
name, and `bob@example.com` mentions nobody. Each list keeps the first
occurrence of every term, in text order, up to a limit: a caption cannot make the
server index (or look up) thousands of terms.

Cost: two regular-expression scans of at most a few thousand characters.
"""

from __future__ import annotations

import re

from ..accounts.service import check_username
from ..errors import InvalidInput

MAX_TAG_CHARS = 100  # longer "tags" are text, not index keys
MAX_USERNAME_CHARS = 30  # as accounts.schemas.Username
_HASHTAG = re.compile(r"(?<![\w&#])#(\w+)")
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9._]+)")


def hashtags(text: str, limit: int) -> list[str]:
    found: dict[str, None] = {}
    for match in _HASHTAG.finditer(text):
        tag = match.group(1).lower()
        if len(found) >= limit:
            break
        if len(tag) <= MAX_TAG_CHARS and not tag.isdigit():
            found[tag] = None
    return list(found)


def mentioned_names(text: str, limit: int) -> list[str]:
    found: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        if len(found) >= limit:
            break
        name = match.group(1).rstrip(".")
        if not name or len(name) > MAX_USERNAME_CHARS:
            continue
        try:
            found[check_username(name)] = None
        except InvalidInput:  # reserved or malformed: just text
            continue
    return list(found)


def normal_tag(tag: str) -> str:
    """A tag as indexed, from what someone typed (`#Cats` or `cats`)."""
    return tag.removeprefix("#").lower()

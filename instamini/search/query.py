"""Turning what someone typed into a safe FTS5 MATCH expression.

User input is text, never FTS5 syntax: the query is cut into tokens (runs of letters
and digits of any script, as the unicode61 tokenizer cuts them; `_`, punctuation,
symbols and emoji separate tokens), each token is quoted as an FTS5 string (inner
`"` doubled, though tokens hold none) and marked as a prefix with `*`, and the tokens
are joined with AND. So `"`, `*`, `NEAR(`, `OR`, `-`, `:`, `^` and parentheses are
just separators or words, and a query of punctuation only has no expression at all.

Typo tolerance: the `loose` expression also lets each token of 4 or more characters
match with its last character dropped ("alicr" finds "alice"); results it adds rank
after those of the strict one.

Cost: a regular-expression scan of at most `max_query_chars` characters.
"""

from __future__ import annotations

import re
import unicodedata

import msgspec

MAX_TOKENS = 8  # more words than this narrow nothing worth the index work
LOOSE_MIN_CHARS = 4  # shorter tokens would match too much with a character dropped
_TOKEN = re.compile(r"[^\W_]+")


class Match(msgspec.Struct, frozen=True):
    """The expressions for one query: strict, and loose (None when it would be the same)."""

    tokens: list[str]
    strict: str
    loose: str | None


def tokens(text: str) -> list[str]:
    """The query's words: NFKC-normalised, lower-cased, at most MAX_TOKENS."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())[:MAX_TOKENS]


def quote(token: str) -> str:
    """An FTS5 string: whatever it holds is text to the FTS5 parser."""
    return '"' + token.replace('"', '""') + '"'


def prefix_expression(words: list[str]) -> str:
    return " AND ".join(f"{quote(word)}*" for word in words)


def parse(text: str) -> Match | None:
    """The MATCH expressions for a query, or None if it has no words to look for."""
    words = tokens(text)
    if not words:
        return None
    shortened = [word[:-1] if len(word) >= LOOSE_MIN_CHARS else word for word in words]
    loose = prefix_expression(shortened) if shortened != words else None
    return Match(words, prefix_expression(words), loose)

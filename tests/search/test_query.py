"""Unit tests of query.py: user text becomes a safe FTS5 expression, never syntax."""

from __future__ import annotations

import sqlite3

import pytest

from instamini.search import query
from instamini.search.query import parse, quote, tokens

HOSTILE = ['"', '""', "*", "alice*", "NEAR(a b)", "a OR b", "-alice", "username:alice", "^alice", "(a", "a)", "()",
           "a AND", "NOT", "{username}: x", "'", "\\", "%_", "🙂", "🙂alice🙂", "日本語", "", "   ", "a\x00b", "+", "a.b@c"]


def test_tokens_are_words_lower_cased_any_script():
    assert tokens("Alice SMITH") == ["alice", "smith"]
    assert tokens("alice_smith.b") == ["alice", "smith", "b"]
    assert tokens("Zoë Ångström") == ["zoë", "ångström"]
    assert tokens("日本語 🙂 ok") == ["日本語", "ok"]
    assert tokens("ｆｕｌｌ") == ["full"]  # NFKC folds full-width letters
    assert len(tokens(" ".join("w" * 3 for _ in range(20)))) == query.MAX_TOKENS


def test_punctuation_only_has_no_expression():
    for text in ["", "   ", '"', "*", "()", "-:^", "🙂🙂", "#", "@"]:
        assert parse(text) is None, text


def test_expression_is_quoted_prefixes_joined_with_and():
    match = parse('ali "OR" smi')
    assert match.strict == '"ali"* AND "or"* AND "smi"*'
    assert match.loose is None  # no token long enough to shorten


def test_loose_drops_the_last_character_of_long_tokens():
    match = parse("alicr sm")
    assert match.strict == '"alicr"* AND "sm"*'
    assert match.loose == '"alic"* AND "sm"*'


def test_quote_doubles_inner_quotes():
    assert quote('a"b') == '"a""b"'


@pytest.fixture
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(username, display_name, tokenize = 'unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [("alice", "Alice Smith"), ("bob", "Zoë Near"), ("or", "Or Not")])
    return conn


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_errors_in_fts5(fts, text):
    match = parse(text)
    for expression in [] if match is None else [match.strict, match.loose]:
        if expression is not None:
            fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()


def test_matches_prefixes_without_case_or_accents(fts):
    def found(text: str) -> set[str]:
        return {row[0] for row in fts.execute("SELECT username FROM t WHERE t MATCH ?", (parse(text).strict,))}

    assert found("ALI") == {"alice"}
    assert found("smi") == {"alice"}
    assert found("zoe") == {"bob"}
    assert found("near") == {"bob"}  # a word, not the NEAR operator
    assert found("OR") == {"or"}
    assert found("alice*") == {"alice"}
    assert found("username:bob") == set()  # both words must match; no column filter

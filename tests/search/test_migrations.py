"""The search migration: triggers survive the statement splitter, and old rows are indexed."""

from __future__ import annotations

import sqlite3

from instamini.accounts.migrations import MIGRATIONS as ACCOUNTS
from instamini.posts.migrations import MIGRATIONS as POSTS
from instamini.search.migrations import MIGRATIONS as SEARCH
from instamini.stores.meta import _split_sql, apply_migrations


def test_splitter_keeps_trigger_bodies_and_strings_whole():
    script = "CREATE TABLE a (x); CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO a VALUES (';'); END;\n SELECT 1;;"
    assert _split_sql(script) == [
        "CREATE TABLE a (x)",
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO a VALUES (';'); END",
        "SELECT 1",
    ]


def test_rows_written_before_the_module_are_indexed_then_kept_in_step():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    apply_migrations(conn, {"accounts": ACCOUNTS, "posts": POSTS})
    conn.execute("INSERT INTO users (id, username, display_name, password_hash) VALUES (1, 'old', 'Old Timer', 'x')")
    conn.executemany("INSERT INTO post_tags (tag, post_id) VALUES (?, ?)", [("sun", 1), ("sun", 2), ("sea", 2)])
    apply_migrations(conn, {"accounts": ACCOUNTS, "posts": POSTS, "search": SEARCH})
    assert conn.execute("SELECT rowid FROM people_index WHERE people_index MATCH 'tim*'").fetchall() == [(1,)]
    assert dict(conn.execute("SELECT tag, posts FROM tag_counts")) == {"sun": 2, "sea": 1}
    conn.execute("DELETE FROM post_tags WHERE post_id = 2")
    conn.execute("INSERT INTO post_tags (tag, post_id) VALUES ('sea', 3), ('sand', 3)")
    assert dict(conn.execute("SELECT tag, posts FROM tag_counts")) == {"sun": 1, "sea": 1, "sand": 1}
    found = conn.execute("SELECT tag FROM tag_index WHERE tag_index MATCH 's*' ORDER BY tag").fetchall()
    assert found == [("sand",), ("sea",), ("sun",)]  # each tag indexed once


def test_migration_3_recounts_tags_without_private_accounts():
    conn = sqlite3.connect(":memory:", isolation_level=None)
    apply_migrations(conn, {"accounts": ACCOUNTS, "posts": POSTS, "search": SEARCH[:2]})
    conn.execute("INSERT INTO users (id, username, private, password_hash) VALUES (1, 'open', 0, 'x'), (2, 'shut', 1, 'x')")
    conn.execute("INSERT INTO posts (id, author_id, kind, caption, hashtags, mention_ids) VALUES (10, 1, 'post', '', '', ''), (20, 2, 'post', '', '', '')")
    conn.executemany("INSERT INTO post_tags (tag, post_id) VALUES (?, ?)", [("sun", 10), ("sun", 20), ("hush", 20)])
    assert dict(conn.execute("SELECT tag, posts FROM tag_counts")) == {"sun": 2, "hush": 1}  # before: all counted
    apply_migrations(conn, {"accounts": ACCOUNTS, "posts": POSTS, "search": SEARCH})
    assert dict(conn.execute("SELECT tag, posts FROM tag_counts")) == {"sun": 1, "hush": 0}
    conn.execute("UPDATE users SET private = 0 WHERE id = 2")
    assert dict(conn.execute("SELECT tag, posts FROM tag_counts")) == {"sun": 2, "hush": 1}

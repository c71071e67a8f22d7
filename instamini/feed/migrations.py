"""The feed's one table, on every shard: the fan-out outbox.

A row is written in the transaction that creates a post (on the author's shard), so
a post that exists will be delivered and a rolled-back one never is. The fan-out
worker delivers it to the author's followers page by page, saving `progress` (the
last follower edge id done) after each page, and deletes the row at the end. A stop
at any point resumes from the last saved page; the pages before it may be delivered
twice, which is harmless because a timeline entry's key is (user, post).

Timelines themselves are not here: they live in the LMDB cache (see timelines.py),
because they can always be rebuilt from `posts` and `edges`.
"""

MIGRATIONS = [
    """
    CREATE TABLE feed_outbox (
        post_id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0
    );
    """,
]

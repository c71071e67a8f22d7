"""The feed's one table, on every shard: the fan-out outbox.

A row is written in the transaction that creates a post (on the author's shard), so
a post that exists will be delivered and a rolled-back one never is. The fan-out
worker delivers it to the author's followers page by page, saving `progress` (the
last follower edge id done) after each page, and deletes the row at the end. A stop
at any point resumes from the last saved page; the pages before it may be delivered
twice, which is harmless because a timeline entry's key is (user, post).

In a cluster, `lagging` holds the owners that missed a page because they could not
be reached, each with the last follower edge id it has ({"b": 7340032}, JSON): they
catch up on their own while `progress` goes on for the rest, and once `progress`
has reached the end (-1) the row stays only for them. An owner the map no longer
names has no followers left to reach, so its entry simply runs out.

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
    "ALTER TABLE feed_outbox ADD COLUMN lagging TEXT NOT NULL DEFAULT '{}';",
]

"""Tables of the graph module, on every shard.

Every relation between two users is stored twice, once on each user's shard, as
an edge seen from that side: Alice follows Bob is `(alice, following, bob)` on
Alice's shard and `(bob, follower, alice)` on Bob's. So "whom do I follow", "who
follows me" and "what is between me and X" are each one query on one shard.
`edges.id` is a time-ordered id: lists page newest first by it.

`graph_outbox` holds the other side's half of a change until it is applied there:
a crash between the two shards' transactions is finished at the next start.
"""

MIGRATIONS = [
    """
    CREATE TABLE edges (
        src INTEGER NOT NULL,
        kind TEXT NOT NULL,
        dst INTEGER NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (src, kind, dst)
    ) WITHOUT ROWID;
    CREATE INDEX edges_newest ON edges (src, kind, id);
    CREATE TABLE graph_outbox (
        id INTEGER PRIMARY KEY,
        src INTEGER NOT NULL,
        dst INTEGER NOT NULL,
        shard INTEGER NOT NULL,
        ops BLOB NOT NULL
    );
    """,
]

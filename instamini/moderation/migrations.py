"""Tables of the moderation module (the runner creates them on every shard).

    admins        (user_id): who may use /api/v1/admin/*. Used on shard 0 only: the
                  list is tiny and read once per admin request (one indexed query).
    reports       one row per report, on shard 0 only: reports are rare and admins
                  read them all in one list, so one place beats a scatter-gather.
                  `open_key` is "reporter:kind:target" while open and NULL once
                  resolved, so the UNIQUE index allows one open report per reporter
                  and target (a repeat finds the existing one).
    suspensions   (user_id) on the suspended user's own shard; loaded into a set in
                  memory at start and updated on change (single process: a scaled-out
                  deployment would need to broadcast changes).
    spam_tokens   (token, spam, ham): how often each word was seen in spam and in
                  ordinary text, on shard 0: the naive Bayes spam model's whole state
                  (loaded into memory at start, written back as it is trained).
    spam_totals   (label, documents): how many spam and ordinary texts were learned.
    media_blocklist  perceptual hashes (64-bit, stored as signed SQLite integers) of
                  images admins banned, on shard 0, loaded into memory at start.
"""

MIGRATIONS = [
    """
    CREATE TABLE admins (
        user_id INTEGER PRIMARY KEY
    );
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        reporter_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        target_id INTEGER NOT NULL,
        target_user_id INTEGER NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        action TEXT,
        resolved_by INTEGER,
        open_key TEXT UNIQUE
    );
    CREATE INDEX reports_by_status ON reports (status, id);
    CREATE TABLE suspensions (
        user_id INTEGER PRIMARY KEY
    );
    """,
    """
    CREATE TABLE spam_tokens (
        token TEXT PRIMARY KEY,
        spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE spam_totals (
        label TEXT PRIMARY KEY,
        documents INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE media_blocklist (
        id INTEGER PRIMARY KEY,
        phash INTEGER NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        added_by INTEGER NOT NULL,
        added_ms INTEGER NOT NULL
    );
    """,
]

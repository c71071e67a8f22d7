"""Tables of the accounts module, on every shard.

A user row lives on the shard that the hash of the username picks, and so does
the username reservation: registering is one transaction on one shard, and the
UNIQUE key makes two concurrent registrations of one name end with one winner.
`usernames` stays a table of its own so a later rename can reserve a new name on
another shard while the user stays put. Session rows live on the shard that the
hash of the token picks: a token carries no user id that could be guessed.
Creation times are read off ids (see ids.py), so no table stores them.
"""

MIGRATIONS = [
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL DEFAULT '',
        bio TEXT NOT NULL DEFAULT '',
        private INTEGER NOT NULL DEFAULT 0,
        avatar_media_id INTEGER,
        password_hash TEXT NOT NULL
    );
    CREATE TABLE usernames (
        username TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_by_user ON sessions (user_id);
    """,
    # The avatar's URL beside its id: a name shown with its picture needs no media lookup.
    # (the media module's migration 3 fills it in for avatars chosen before it existed).
    """
    ALTER TABLE users ADD COLUMN avatar_url TEXT;
    """,
]

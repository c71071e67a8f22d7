"""Tables of the messages module, on every shard.

A thread lives on its creator's shard, with everything that changes when someone
writes in it, so that sending a message is ONE transaction on one shard:

    threads          the thread: `kind` direct (two people) or group; `last_message_id`
    thread_members   who is in it (fixed at creation), with each member's read receipt
                     (`last_read_message_id`, 0 before any) and folder (inbox or
                     requests); the source of truth for both
    messages         the messages; `media` is a JSON copy of the photo's media record
                     (a ready image never changes, so history needs no cross-shard
                     lookup), `post_id` a shared post. The index (thread_id, id,
                     sender_id) answers history pages, the last message and the exact
                     unread count (messages after my read receipt, not mine, not from
                     someone hidden from me) without touching the table rows.
    messages_outbox  the user-side rows (below) still to be written on other shards,
                     written in the same transaction as the change they follow

Each member also has a row on THEIR OWN shard, so "my threads, most recent first"
is one query on one shard:

    user_threads     (user_id, thread_id, last_activity_id, folder, peer_id): an index
                     of thread_members, ordered by the thread's last activity (a
                     message id, or the thread id before any message). `peer_id` is
                     the other person of a direct thread: "do we already have one"
                     is one lookup. Rows only move forward (activity up, requests to
                     inbox), so applying one twice or late is harmless.

And on the SENDER's shard, beside the media table it protects:

    message_media    (media_id, thread_id, message_id): an upload sent in a message. It
                     can then go in no post or other message, and a trigger on the
                     media table (attachments.py: the migration runner splits scripts
                     on ';', which a trigger body contains, so it is installed at
                     start) keeps the media janitor from deleting it, and letting go
                     of its blobs, while a message shows it.

A message judged spam when sent (the moderation module's spam checks), or removed by
an admin, carries `messages.spam` = 1: its sender still sees it, nobody else does. The
thread index then gains `spam`, so that pages and unread counts still read it alone.
"""

MIGRATIONS = [
    """
    CREATE TABLE threads (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        creator_id INTEGER NOT NULL,
        last_message_id INTEGER
    );
    CREATE TABLE thread_members (
        thread_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        last_read_message_id INTEGER NOT NULL DEFAULT 0,
        folder TEXT NOT NULL,
        joined_ms INTEGER NOT NULL,
        PRIMARY KEY (thread_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        thread_id INTEGER NOT NULL,
        sender_id INTEGER NOT NULL,
        text TEXT NOT NULL,
        media TEXT,
        post_id INTEGER
    );
    CREATE INDEX messages_thread ON messages (thread_id, id, sender_id);
    CREATE TABLE messages_outbox (
        id INTEGER PRIMARY KEY,
        shard INTEGER NOT NULL,
        rows BLOB NOT NULL
    );
    CREATE TABLE user_threads (
        user_id INTEGER NOT NULL,
        thread_id INTEGER NOT NULL,
        last_activity_id INTEGER NOT NULL,
        folder TEXT NOT NULL,
        peer_id INTEGER,
        PRIMARY KEY (user_id, thread_id)
    ) WITHOUT ROWID;
    CREATE INDEX user_threads_recent ON user_threads (user_id, folder, last_activity_id);
    CREATE INDEX user_threads_peer ON user_threads (user_id, peer_id) WHERE peer_id IS NOT NULL;
    CREATE TABLE message_media (
        media_id INTEGER PRIMARY KEY,
        thread_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL
    );
    """,
    """
    ALTER TABLE messages ADD COLUMN spam INTEGER NOT NULL DEFAULT 0;
    DROP INDEX messages_thread;
    CREATE INDEX messages_thread ON messages (thread_id, id, sender_id, spam);
    """,
]

"""Tables of the posts module, on every shard.

A post lives on its author's shard, beside the media it shows (the `media` table
of the media module: `media.post_id` says which post an item belongs to, and its
position in the carousel). So does everything that only the post needs, which
can then change in the post's own transaction, with exact counters:

    posts          the post; `hashtags` and `mention_ids` are JSON lists in caption
                   order (what is shown); `idempotency_key` makes a retried create
                   return the first post instead of making a second one
    post_tags      (tag, post_id): a tag's posts newest first, on this shard; the tag
                   pages of Explore merge these lists from every shard
    post_mentions  (post_id, user_id): who a caption mentions, and (by the second
                   index) the posts that mention someone
    likes          (post_id, user_id): one row per like; the count is counters "likes"
    comments       one level of replies: `parent_id` is the top-level comment a
                   reply belongs to (NULL for a top-level one), `reply_to_id` the
                   comment it answered (the parent, or another reply in its thread);
                   the count, replies included, is counters "comments"

Saves live on the SAVER's shard instead (`saves`): "what did I save" is the
question asked of them, newest first; rows of posts since deleted stay behind and
are skipped when the list is read.
"""

MIGRATIONS = [
    """
    CREATE TABLE posts (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        caption TEXT NOT NULL,
        hashtags TEXT NOT NULL,
        mention_ids TEXT NOT NULL,
        edited_ms INTEGER,
        idempotency_key TEXT
    );
    CREATE INDEX posts_grid ON posts (author_id, id);
    CREATE UNIQUE INDEX posts_idempotency ON posts (author_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE TABLE post_tags (
        tag TEXT NOT NULL,
        post_id INTEGER NOT NULL,
        PRIMARY KEY (tag, post_id)
    ) WITHOUT ROWID;
    CREATE TABLE post_mentions (
        post_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        PRIMARY KEY (post_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX post_mentions_user ON post_mentions (user_id, post_id);
    CREATE TABLE likes (
        post_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (post_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY,
        post_id INTEGER NOT NULL,
        author_id INTEGER NOT NULL,
        parent_id INTEGER,
        reply_to_id INTEGER,
        text TEXT NOT NULL
    );
    CREATE INDEX comments_thread ON comments (post_id, parent_id, id);
    CREATE TABLE saves (
        user_id INTEGER NOT NULL,
        post_id INTEGER NOT NULL,
        id INTEGER NOT NULL,
        PRIMARY KEY (user_id, post_id)
    ) WITHOUT ROWID;
    CREATE INDEX saves_newest ON saves (user_id, id);
    """,
    """
    ALTER TABLE comments ADD COLUMN spam INTEGER NOT NULL DEFAULT 0;
    """,
]

"""Tables of the stories module, on every shard.

A story lives on its author's shard, beside the media it shows. Its media row
carries the story's id in `media.post_id` (ids are unique across every table, so no
post has that id): the media janitor then leaves it alone, and posts, messages and
avatars refuse it as "already used", with no new trigger or filter anywhere.

    stories       one row per story; `expires_ms` is checked on every read, and the
                  stories janitor deletes the row (and its media) once it is past
    story_views   (story_id, viewer_id): who has seen a story, on the story's shard,
                  so the author's "who saw it" list is one indexed range

Cost: two small indexed tables; a story is one row plus one row per viewer.
"""

MIGRATIONS = [
    """
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        author_id INTEGER NOT NULL,
        media_id INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE INDEX stories_author ON stories (author_id, expires_ms);
    CREATE INDEX stories_expiry ON stories (expires_ms);
    CREATE TABLE story_views (
        story_id INTEGER NOT NULL,
        viewer_id INTEGER NOT NULL,
        seen_ms INTEGER NOT NULL,
        PRIMARY KEY (story_id, viewer_id)
    ) WITHOUT ROWID;
    CREATE INDEX story_views_newest ON story_views (story_id, seen_ms);
    """,
]

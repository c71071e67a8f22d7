"""Tables of the notifications module, on every shard.

A notification lives on its RECIPIENT's shard: the list, the badge and marking
read are questions of one user, answered by one shard.

    notifications        one row per notification. A group ("alice and 3 others liked
                         your post") is ONE row that later events join: `group_key`
                         ("like:<post>", "follow", "message:<thread>", ...) names it
                         while it is open (unique per user then; NULL once closed, so
                         the next event opens a new row). `seq` is a new time-ordered
                         id at every change, and the list is ordered by it: a
                         regrouped notification moves to the top. `id` is the seq it
                         was created with and never changes (clients update an item
                         in place by it). `actor_ids` (JSON, newest first) holds the
                         few actors shown, so a page is one query; `actor_count` and
                         `event_count` (likes, follows, messages) are exact.
                         `post_id`, `comment_id`, `parent_comment_id` (the thread a
                         reply belongs to) and `thread_id` say what it is about, so
                         that deleting that thing deletes the notification.
    notification_actors  every actor of a notification, with the seq of their latest
                         event and how many events they account for: what makes an
                         unlike, an unfollow or a block remove exactly one actor from
                         a group of thousands, and a repeated event a no-op.

The unread count (the badge) is the counter "notifications_unread" on the user's id
(stores/counters.py), moved in the same transaction as the rows it counts.
"""

MIGRATIONS = [
    """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        group_key TEXT,
        post_id INTEGER,
        comment_id INTEGER,
        parent_comment_id INTEGER,
        thread_id INTEGER,
        actor_ids TEXT NOT NULL,
        actor_count INTEGER NOT NULL,
        event_count INTEGER NOT NULL,
        last_event_id INTEGER,
        text_preview TEXT,
        read INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX notifications_list ON notifications (user_id, seq);
    CREATE UNIQUE INDEX notifications_open ON notifications (user_id, group_key) WHERE group_key IS NOT NULL;
    CREATE INDEX notifications_post ON notifications (post_id) WHERE post_id IS NOT NULL;
    CREATE TABLE notification_actors (
        notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
        actor_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        events INTEGER NOT NULL,
        PRIMARY KEY (notification_id, actor_id)
    ) WITHOUT ROWID;
    CREATE INDEX notification_actors_newest ON notification_actors (notification_id, seq);
    """,
]

"""The explore module's one index: a user's likes, newest first, on every shard.

`likes` is keyed by (post_id, user_id); "what did this user like lately" would scan
the table without it. Cost: one more index entry per like.
"""

MIGRATIONS = [
    "CREATE INDEX IF NOT EXISTS likes_by_user ON likes (user_id, id);",
]

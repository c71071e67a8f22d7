"""Tables of the media module, on every shard (a media item lives on its owner's shard).

`media` is what the API shows: kind, status (processing, ready or failed), the reason
of a failure, and the variants (re-encoded files in the blob store) as JSON.
`media_jobs` is the durable work queue: a row is written in the same transaction as
the media row and deleted in the one that records the outcome, so a restart finds
every unfinished job (a job left `running` by a crash is queued again, up to
`[media] max_attempts`). The original upload is a file under `data/uploads/` that
only the job refers to; it is deleted when the job ends and never served.
`media.phash` (added by the second migration) is the perceptual hash of a processed
image or of a video's poster (`ranker/phash.py`), stored signed; NULL before.
"""

MIGRATIONS = [
    """
    CREATE TABLE media (
        id INTEGER PRIMARY KEY,
        owner_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        alt_text TEXT NOT NULL DEFAULT '',
        width INTEGER,
        height INTEGER,
        duration_ms INTEGER,
        placeholder TEXT,
        variants TEXT NOT NULL DEFAULT '[]',
        post_id INTEGER,
        position INTEGER,
        upload_bytes INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX media_owner ON media (owner_id, id);
    CREATE INDEX media_post ON media (post_id, position) WHERE post_id IS NOT NULL;
    CREATE TABLE media_jobs (
        media_id INTEGER PRIMARY KEY,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        upload_path TEXT NOT NULL,
        queued_ms INTEGER NOT NULL
    );
    """,
    """
    ALTER TABLE media ADD COLUMN phash INTEGER;
    """,
    # Avatars chosen before users.avatar_url existed get theirs: the smallest WebP still.
    """
    UPDATE users SET avatar_url = (
        SELECT '/media/' || json_extract(v.value, '$.key') || '.webp'
        FROM media, json_each(media.variants) AS v
        WHERE media.id = users.avatar_media_id AND json_extract(v.value, '$.role') = 'image'
        ORDER BY json_extract(v.value, '$.width') LIMIT 1
    ) WHERE avatar_media_id IS NOT NULL AND avatar_url IS NULL;
    """,
]
